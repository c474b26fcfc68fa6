namespace Isola.Lab;

/// <summary>
/// What runs inside a lab host. The initramfs's <c>/init</c> (busybox) loads the modules 9p and
/// overlayfs need, mounts the host's root read-only over 9p with a tmpfs on top and switches to it;
/// there <c>/isola-lab-init</c> (the host's own sh) mounts the kernel's file systems and the exchange
/// directory, loads the SR-IOV drivers, marks itself ready and runs the jobs the host drops into
/// <c>exchange/jobs/</c>, one at a time, in name order: <c>N.sh</c> gives <c>N.out</c> (stdout and
/// stderr) and then <c>N.rc</c> (its exit code). A file <c>exchange/poweroff</c> ends the lab.
/// </summary>
public static class LabInit
{
    /// <summary>The modules of the initramfs, in the order they are loaded (each needs the ones before it).</summary>
    public static IReadOnlyList<string> BootModules { get; } =
    [
        "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/net/9p/9pnet.ko", "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/net/9p/9pnet_virtio.ko", "kernel/fs/9p/9p.ko", "kernel/fs/overlayfs/overlay.ko",
    ];

    /// <summary>The drivers the lab loads once it runs on the host's root (modprobe: their dependencies come along).</summary>
    public static IReadOnlyList<string> Drivers { get; } = ["igb", "igbvf", "nvme", "vfio-pci", "bonding", "8021q", "tun", "vhost_net"];

    public const string ReadyMark = "ready";

    public const string PoweroffMark = "poweroff";

    public static string Init(IEnumerable<string> modules) => $$"""
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        fail() { echo "isola-lab: $*"; echo o > /proc/sysrq-trigger; sleep 60; }
        for m in {{string.Join(' ', modules.Select(m => Path.GetFileName(m)))}}; do insmod /modules/$m || fail "insmod $m failed"; done
        mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || fail "no host root over 9p"
        mount -t tmpfs -o mode=0755 tmpfs /upper
        mkdir -p /upper/data /upper/work
        mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot || fail "no overlay on the host root"
        cp /isola-lab-init /newroot/isola-lab-init
        chmod 0755 /newroot/isola-lab-init
        umount /proc /sys /dev
        exec switch_root /newroot /isola-lab-init

        """.Replace("\r\n", "\n", StringComparison.Ordinal);

    public static string RootInit(IEnumerable<string> drivers) => $$"""
        #!/bin/sh
        export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mkdir -p /dev/pts /dev/shm
        mount -t devpts devpts /dev/pts
        mount -t tmpfs tmpfs /dev/shm
        mount -t tmpfs tmpfs /tmp
        mount -t tmpfs tmpfs /run
        mkdir -p /run/lab /root
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 exchange /run/lab || { echo "isola-lab: no exchange directory"; echo o > /proc/sysrq-trigger; }
        hostname isola-lab
        ip link set lo up
        for m in {{string.Join(' ', drivers)}}; do modprobe $m || echo "isola-lab: modprobe $m failed"; done
        mkdir -p /run/lab/jobs
        uname -r > /run/lab/ready.tmp && mv /run/lab/ready.tmp /run/lab/{{ReadyMark}}
        while :; do
            for job in /run/lab/jobs/*.sh; do
                [ -f "$job" ] || continue
                n=${job%.sh}
                [ -e "$n.rc" ] && continue
                (cd / && sh "$job" > "$n.out" 2>&1 < /dev/null)
                echo $? > "$n.rc.tmp" && mv "$n.rc.tmp" "$n.rc"
            done
            if [ -e /run/lab/{{PoweroffMark}} ]; then sync; echo o > /proc/sysrq-trigger; sleep 60; fi
            sleep 0.1
        done

        """.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>
    /// The first job of a boot: enables each SR-IOV device's VFs as the shape says (devices matched in PCI
    /// address order, the order the shape lists them in) and prints what it found, one line per device:
    /// address, vendor:device, NUMA node, VFs.
    /// </summary>
    public static string EnableVfs(LabShape shape)
    {
        var wanted = string.Join(' ', shape.Devices.Select(d => d.Vfs));
        return $$"""
            set -e
            set -- {{wanted}}
            for d in $(ls -d /sys/bus/pci/devices/*/sriov_totalvfs | sort); do
                d=${d%/sriov_totalvfs}
                [ $# -gt 0 ] || { echo "more SR-IOV devices than the shape has: $d" >&2; exit 3; }
                if [ "$1" -gt 0 ]; then echo "$1" > "$d/sriov_numvfs"; fi
                echo "${d##*/} $(cat $d/vendor):$(cat $d/device) $(cat $d/numa_node) $(cat $d/sriov_numvfs)"
                shift
            done
            [ $# -eq 0 ] || { echo "the shape has $# SR-IOV devices the guest does not" >&2; exit 3; }

            """.Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
