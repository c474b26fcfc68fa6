#!/usr/bin/env bash
# The lab host's launcher (docs/lab.md): installs what a lab needs from Debian when it is missing, then
# boots one and runs a command in it.
#   ./scripts/lab.sh install                       only install: QEMU >= 8 (bookworm-backports: Debian 12's
#                                                  7.2 has no igb device) and qemu-img of the same QEMU,
#                                                  a stock kernel with its modules, a static busybox for
#                                                  the initramfs
#   ./scripts/lab.sh run [--shape S] -- COMMAND    boot a lab host, run COMMAND in it, exit with its code
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

install_lab() {
  local missing=()
  for p in linux-image-amd64 busybox-static; do installed "$p" || missing+=("$p"); done
  local qemu_major=0 img_major=0 backports=()
  if command -v qemu-system-x86_64 >/dev/null; then
    qemu_major=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
  fi
  # qemu-img (qemu-utils), which the API server runs on uploaded images (src/Isola.Server/Images) and the
  # image tests run to make them: from bookworm-backports too, the same QEMU as qemu-system-x86 (Debian
  # 12's own is 7.2: one QEMU on the host, its images read by the qemu-img of the QEMU that runs them).
  if command -v qemu-img >/dev/null; then
    img_major=$(qemu-img --version | sed -n 's/^qemu-img version \([0-9]*\).*/\1/p')
  fi
  [ "${qemu_major:-0}" -ge 8 ] || backports+=(qemu-system-x86)
  [ "${img_major:-0}" -ge 8 ] || backports+=(qemu-utils)
  if [ ${#backports[@]} -gt 0 ]; then
    # The backports suite of the Debian mirror this machine already uses.
    local mirror
    mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 | awk '{print $2}')
    mirror=${mirror:-$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -n 1 | awk '{print $2}')}
    mirror=${mirror:-http://deb.debian.org/debian}
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
        | as_root tee /etc/apt/sources.list.d/isola-backports.sources >/dev/null
    fi
  fi
  if [ ${#missing[@]} -gt 0 ] || [ ${#backports[@]} -gt 0 ]; then
    echo "lab: installing ${missing[*]} $([ ${#backports[@]} -gt 0 ] && echo "${backports[*]} (bookworm-backports)")"
    as_root apt-get update -o DPkg::Lock::Timeout=300 -qq
    if [ ${#missing[@]} -gt 0 ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"
    fi
    if [ ${#backports[@]} -gt 0 ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
        -t bookworm-backports "${backports[@]}"
    fi
  fi
}

case "${1:-}" in
  install)
    install_lab
    ;;
  run)
    shift
    install_lab
    exec ./isola lab run "$@"
    ;;
  *)
    echo "usage: $0 install | run [--shape S] [--keep DIR] -- COMMAND" >&2
    exit 2
    ;;
esac
