#!/usr/bin/env bash
# Installs what Isola's tests need on a fresh Debian 12 machine, then runs every test once.
# Usage: ./scripts/test.sh [extra dotnet test arguments, e.g. --filter Discovery]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use for real: iproute2 (ip -j link show); libvirt 9 (virt-xml-validate,
# virsh with the test:/// driver) and xmllint, which virt-xml-validate calls; PostgreSQL 15, which
# the store tests start on 127.0.0.1 in a temp directory (tests/Isola.Tests/Store/PostgresServer.cs);
# Open vSwitch 3.1, whose userspace daemons the flow tests start privately (tests/Isola.Tests/Support/
# OvsSwitch.cs), and iperf3, ping, ethtool and sysctl (procps) for the traffic test between network
# namespaces (tests/Isola.Tests/Agent/Ovs/Traffic), which also uses ip and ss from iproute2 and iptables
# (iptables/ip6tables counting rules with -m dscp in a VM's namespace: the DSCP its packets arrive with).
# Real VMs (tests/Isola.Tests/Vm): libvirtd's system instance with its QEMU driver (libvirt-daemon-system; the
# test starts virtlogd and libvirtd when they do not run), genisoimage for the agent's NoCloud config drives,
# and dosfstools, syslinux and mtools for Isola's small guest image (src/Isola.Lab/Guest); the VXLAN guests' test
# also runs Open vSwitch (above) as the host's switch, at its default run directory, where libvirt's ovs-vsctl finds it.
# The Debian guest with Debian's cloud-init (src/Isola.Lab/Guest/DebianImage.cs, docs/lab.md): debootstrap (from the mirror
# apt uses), e2fsprogs (mkfs.ext4 -d for its root partition) and the same syslinux, dosfstools and mtools for its boot one;
# built once into /var/cache/isola-tests (ISOLA_TEST_CACHE), a few minutes on a fresh machine.
packages=(iproute2 libvirt-clients libvirt-daemon libvirt-daemon-system libxml2-utils postgresql-15 openvswitch-switch iperf3 iputils-ping ethtool procps iptables
  genisoimage dosfstools syslinux syslinux-common mtools debootstrap e2fsprogs)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -o DPkg::Lock::Timeout=300 -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"
fi

# The lab host's (tests/Isola.Tests/Lab, docs/lab.md): QEMU >= 8 from bookworm-backports, a stock
# kernel with its modules, a static busybox. It also installs qemu-utils (qemu-img, which the image
# tests and the API server run: tests/Isola.Tests/Server/Images), not in the list above: it must come
# from bookworm-backports with the same QEMU as qemu-system-x86.
./scripts/lab.sh install

if ! command -v dotnet >/dev/null; then
  echo "error: the .NET 10 SDK is required (dotnet not on PATH)" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results=artifacts/test-results
rm -rf "$results"
# NuGet versions are pinned in Directory.Packages.props.
dotnet build Isola.slnx -c Release -v quiet -nologo
set +e
dotnet test Isola.slnx -c Release --no-build -v quiet -nologo \
  --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" --results-directory "$results" "$@"
status=$?
set -e

trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -n "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  total=$(get total); passed=$(get passed); failed=$(get failed)
  skipped=$(( total - passed - failed ))
  echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
fi
exit $status
