using Isola.Rendering.Isolation;

namespace Isola.Rendering.Guest;

/// <summary>
/// The guest's end of interrupt steering, as it goes on the config drive: <see cref="MapFile"/> has a
/// line per NIC (<see cref="GuestIrqMap.Line"/>), <see cref="ScriptFile"/> applies it (POSIX sh:
/// busybox and Debian's dash), and <c>vendor-data</c> installs the script where cloud-init runs it at
/// every boot (<c>/var/lib/cloud/scripts/per-boot/</c>) and runs it once. A guest without cloud-init
/// runs <c>sh isola-irq-affinity.sh DRIVE/isola-irq-affinity</c> itself (Isola's test guest does).
/// The script tells each vector's role by the name its guest driver gave it in
/// <c>/proc/interrupts</c> (<see cref="VectorLayout.OfName"/>'s rule), writes
/// <c>/proc/irq/N/smp_affinity_list</c>, says on standard output what it did, and bans the IRQs it
/// steered from irqbalance where the guest runs it.
/// </summary>
public static class GuestIrqScript
{
    public const string MapFile = "isola-irq-affinity";

    public const string ScriptFile = "isola-irq-affinity.sh";

    /// <summary>The map's content: one line per NIC; empty when the guest has nothing to steer.</summary>
    public static string Map(IReadOnlyList<GuestIrqMap> nics) => string.Concat(nics.Select(n => n.Line + "\n"));

    /// <summary>Where the script keeps itself in a cloud-init guest.</summary>
    public const string PerBoot = "/var/lib/cloud/scripts/per-boot/isola-irq-affinity";

    public static string Script => """
        #!/bin/sh
        # Written by Isola: the guest's end of its NICs' interrupt steering. Each line of the map is
        # "PCI-ADDRESS QUEUE-VCPUS MISC-VCPU": queue q's vectors of the NIC at that address go to the
        # (q mod n)-th vCPU of QUEUE-VCPUS, its other vectors (config, mailbox) to MISC-VCPU. The host
        # pins those vCPUs and steers its end of each vector to the same pCPUs. Runs at every boot.
        # Usage: isola-irq-affinity.sh [MAP]  (without MAP: the map on the drive labelled cidata)
        map="$1"
        if [ -z "$map" ]; then
          dev=$(blkid -L cidata 2>/dev/null || findfs LABEL=cidata 2>/dev/null)
          [ -n "$dev" ] || dev=/dev/disk/by-label/cidata
          mnt=$(mktemp -d)
          if mount -o ro "$dev" "$mnt" 2>/dev/null; then
            cp "$mnt/isola-irq-affinity" /run/isola-irq-affinity 2>/dev/null
            umount "$mnt"
          fi
          rmdir "$mnt"
          map=/run/isola-irq-affinity
        fi
        if [ ! -f "$map" ]; then echo "isola-irq: no map (no config drive labelled cidata?)"; exit 0; fi
        banned=
        while read -r addr queues misc; do
          case "$addr" in ''|'#'*) continue ;; esac
          dir=/sys/bus/pci/devices/$addr
          if [ ! -d "$dir/msi_irqs" ]; then echo "isola-irq: $addr: no MSI-X vectors"; continue; fi
          set -- $(echo "$queues" | tr ',' ' ')
          n=$#
          if [ "$n" -eq 0 ]; then echo "isola-irq: $addr: no queue vCPUs in the map"; continue; fi
          for irq in $(ls "$dir/msi_irqs" | sort -n); do
            name=$(awk -v irq="$irq:" '$1 == irq { print $NF }' /proc/interrupts)
            # Not requested yet (a NIC whose driver requests its vectors when it opens; a line that ends in its hwirq): nothing to write.
            case "$name" in ''|*[0-9]-edge|*[0-9]-level) continue ;; esac
            q=$(echo "$name" | sed -nE 's/.*(-TxRx-|-rx-|-tx-|mlx5_comp|input\.|output\.)([0-9]+).*/\2/p')
            if [ -n "$q" ]; then i=$((q % n + 1)); eval cpu=\${$i}; what="queue $q"; else cpu=$misc; what=misc; fi
            if echo "$cpu" > /proc/irq/$irq/smp_affinity_list 2>/dev/null; then
              echo "isola-irq: $addr irq $irq $name ($what) on vCPU $cpu"
              banned="$banned --banirq=$irq"
            else
              echo "isola-irq: $addr irq $irq $name ($what): vCPU $cpu refused"
            fi
          done
        done < "$map"
        # irqbalance would move them again: where the guest has it, it is told to leave them alone.
        if [ -f /etc/default/irqbalance ]; then
          awk '/^# isola-irq/ { skip = 1; next } skip { skip = 0; next } { print }' /etc/default/irqbalance > /etc/default/irqbalance.isola
          # The image's own arguments, kept: the last assignment before Isola's lines, and Isola's bans after them.
          own=$(sed -n 's/^IRQBALANCE_ARGS=//p' /etc/default/irqbalance.isola | tail -n 1 | tr -d '"')
          printf '# isola-irq: the IRQs Isola steered (the next line is rewritten at every boot)\nIRQBALANCE_ARGS="%s"\n' "${own:+$own }${banned# }" >> /etc/default/irqbalance.isola
          mv /etc/default/irqbalance.isola /etc/default/irqbalance
          systemctl try-restart irqbalance.service 2>/dev/null
        fi
        exit 0

        """.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>cloud-init's vendor-data: a script (run once per instance) that installs <see cref="Script"/> to run at every boot, and runs it.</summary>
    public static string VendorData => $"""
        #!/bin/sh
        # Written by Isola: installs the guest's end of interrupt steering where cloud-init runs it at every boot.
        mkdir -p {Path.GetDirectoryName(PerBoot)}
        cat > {PerBoot} <<'ISOLA_SCRIPT_END'
        {Script}ISOLA_SCRIPT_END
        chmod 0755 {PerBoot}
        exec {PerBoot}

        """.Replace("\r\n", "\n", StringComparison.Ordinal);
}
