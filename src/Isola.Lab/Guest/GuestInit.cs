namespace Isola.Lab.Guest;

/// <summary>
/// The init of Isola's small test guest (busybox, as PID 1): it loads its drivers, mounts its own disk
/// read-write at <c>/disk</c> (what a reboot must keep), reads the NoCloud config drive (the block device
/// labelled <c>cidata</c>) as cloud-init would for the parts Isola writes — <c>meta-data</c>'s instance id
/// and hostname, <c>network-config</c> v2 ethernets matched by MAC (set-name, MTU, static addresses,
/// the default route), a <c>user-data</c> that starts with <c>#!</c> run as a script, Isola's interrupt steering
/// script run on its map (and each NIC's vectors then, as the kernel shows them) — and says what it did
/// on the serial console, one <c>isola-guest: ...</c> line at a time. The ACPI power button powers it off.
/// Bonds and DHCP are not this guest's: it says so.
/// </summary>
public static class GuestInit
{
    /// <summary>Every console line of the guest's own starts with this.</summary>
    public const string Prefix = "isola-guest: ";

    /// <summary>The label of the guest image's file system (FAT): the guest finds its own disk by it.</summary>
    public const string DiskLabel = "ISOLAGUEST";

    /// <summary>The kernel modules the guest loads (with their dependencies, in order).</summary>
    public static IReadOnlyList<string> Modules { get; } =
        ["virtio_pci", "virtio_blk", "virtio_net", "isofs", "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "button", "evdev"];

    /// <summary>
    /// The awk program (busybox awk) that turns a network-config v2 into one line per ethernet: MAC, name, MTU, gateway,
    /// dhcp, addresses ("-": none). Isola writes every value as a quoted YAML string and lists in brackets
    /// (<c>macaddress: "fa:16:3e:…"</c>, <c>addresses: ["10.0.0.5/24"]</c>): quotes, brackets and commas become blanks
    /// first. They are one POSIX bracket expression, <c>[],["]</c>: busybox's regex takes a backslash inside brackets as
    /// itself, so <c>["\[\],]</c> would leave the quotes (and every MAC unmatched).
    /// </summary>
    public const string NetworkConfigAwk = """
        function flush() { if (mac != "") print mac, (name == "" ? "-" : name), (mtu == "" ? "-" : mtu), (gw == "" ? "-" : gw), (dhcp == "" ? "-" : dhcp), (addrs == "" ? "-" : addrs); mac = name = mtu = gw = dhcp = addrs = "" }
        { line = $0; sub(/#.*/, "", line); if (line ~ /^[ \t]*$/) next
          indent = match(line, /[^ ]/) - 1; gsub(/[],["]/, " ", line); n = split(line, f, " ") }
        indent == 2 { flush(); section = f[1] }
        indent == 4 && section == "ethernets:" { flush(); id = f[1]; sub(/:$/, "", id); name = id }
        section == "ethernets:" && f[1] == "macaddress:" { mac = tolower(f[2]) }
        section == "ethernets:" && f[1] == "set-name:" { name = f[2] }
        section == "ethernets:" && f[1] == "mtu:" { mtu = f[2] }
        section == "ethernets:" && f[1] == "dhcp4:" && f[2] == "true" { dhcp = "dhcp4" }
        section == "ethernets:" && f[1] == "via:" { gw = f[2] }
        section == "ethernets:" && f[1] == "addresses:" && indent == 6 { for (i = 2; i <= n; i++) addrs = addrs (addrs == "" ? "" : " ") f[i] }
        section == "bonds:" && indent == 4 { print "bond", f[1] }
        END { flush() }
        """;

    public static string Script(IEnumerable<string> moduleFiles) => $$"""
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
        say() { echo "{{Prefix}}$*"; }
        for m in {{string.Join(' ', moduleFiles.Select(Path.GetFileName))}}; do insmod /modules/$m 2>/dev/null || say "insmod $m failed"; done
        ip link set dev lo up
        # A block device's label, read where the file systems keep it (busybox here has no blkid): ISO 9660's volume
        # id (after its CD001 magic), else a FAT label (FAT12/16 at byte 43, FAT32 at 71).
        field() { dd if="$1" bs=1 skip=$2 count=$3 2>/dev/null | tr -d ' \000'; }
        label() {
          if [ "$(field $1 32769 5)" = CD001 ]; then field $1 32808 32; return; fi
          for at in 43 71; do l=$(field $1 $at 11); [ "$l" = "{{DiskLabel}}" ] && { echo "$l"; return; }; done
        }
        for i in $(seq 100); do ls /dev/vd? >/dev/null 2>&1 && break; sleep 0.1; done
        disk=; cidata=
        for d in /dev/vd? /dev/sr? /dev/sd?; do
          [ -b "$d" ] || continue
          case "$(label $d)" in {{DiskLabel}}) disk=$d ;; cidata|CIDATA) cidata=$d ;; esac
        done
        if [ -n "$disk" ] && mount -t vfat -o rw $disk /disk; then say "disk $disk"; else say "no disk labelled {{DiskLabel}}"; fi
        if [ -n "$cidata" ] && mount -o ro $cidata /cidata; then say "config drive $cidata"; else say "no config drive (no device labelled cidata)"; fi
        iid=$(sed -n 's/^instance-id: *//p' /cidata/meta-data 2>/dev/null | tr -d '"')
        host=$(sed -n 's/^local-hostname: *//p' /cidata/meta-data 2>/dev/null | tr -d '"')
        [ -n "$host" ] && hostname "$host"
        for i in $(seq 100); do ls /sys/class/net | grep -qv '^lo$' && break; sleep 0.1; done
        if [ -f /cidata/network-config ]; then
          awk '{{NetworkConfigAwk.Replace("'", "'\\''", StringComparison.Ordinal)}}' /cidata/network-config > /run/nics
          while read mac name mtu gw dhcp addrs; do
            if [ "$mac" = bond ]; then say "bond $name: not configured (this guest has no bonding)"; continue; fi
            dev=; for n in /sys/class/net/*; do [ "$(cat $n/address)" = "$mac" ] && dev=${n##*/}; done
            if [ -z "$dev" ]; then say "no nic with mac $mac"; continue; fi
            [ "$name" != - ] && [ "$name" != "$dev" ] && ip link set dev $dev name $name && dev=$name
            [ "$mtu" != - ] && ip link set dev $dev mtu $mtu
            ip link set dev $dev up
            [ "$addrs" != - ] && for a in $addrs; do ip addr add $a dev $dev; done
            [ "$gw" != - ] && ip route add default via $gw dev $dev
            [ "$dhcp" != - ] && say "nic $dev: dhcp4 asked, not done by this guest"
            say "nic $dev $mac mtu $(cat /sys/class/net/$dev/mtu) addresses $addrs"
          done < /run/nics
        fi
        # The guest's end of interrupt steering, as a cloud-init guest runs it (Isola's script from the drive), then what the kernel says of each NIC's vectors.
        if [ -f /cidata/isola-irq-affinity.sh ]; then
          sh /cidata/isola-irq-affinity.sh /cidata/isola-irq-affinity | while read -r line; do say "$line"; done
          for dev in $(cut -d' ' -f1 /cidata/isola-irq-affinity); do
            for irq in $(ls /sys/bus/pci/devices/$dev/msi_irqs 2>/dev/null); do
              name=$(awk -v irq="$irq:" '$1 == irq { print $NF }' /proc/interrupts)
              [ -n "$name" ] && say "irq $dev $irq $name smp_affinity_list=$(cat /proc/irq/$irq/smp_affinity_list) effective=$(cat /proc/irq/$irq/effective_affinity_list 2>/dev/null)"
            done
          done
        fi
        for e in /sys/class/input/event*; do
          [ "$(cat $e/device/name 2>/dev/null)" = "Power Button" ] || continue
          ( dd if=/dev/input/${e##*/} bs=24 count=1 >/dev/null 2>&1; say "power button: powering off"; sync; umount /disk; poweroff -f ) &
        done
        say "ready instance-id=$iid hostname=$(hostname)"
        if head -n 1 /cidata/user-data 2>/dev/null | grep -q '^#!'; then
          cp /cidata/user-data /run/user-data; chmod 0755 /run/user-data
          /run/user-data; say "user-data exited $?"
        fi
        while true; do sleep 3600; done

        """.Replace("\r\n", "\n", StringComparison.Ordinal);
}
