#!/bin/bash
# prepare.sh — make this Debian 12 machine able to run the real-kernel test VM.
# Installs the apt packages and extracts Debian's kernel and udev into a cache outside the
# checkout ($DMTUI_VM_CACHE, default /var/cache/dmtui-vm). Idempotent; prints the cache dir.
set -euo pipefail
CACHE=${DMTUI_VM_CACHE:-/var/cache/dmtui-vm}
mkdir -p "$CACHE"
need=()
for cmd in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static mkfs.xfs:xfsprogs \
           thin_check:thin-provisioning-tools mkfs.ext4:e2fsprogs modprobe:kmod \
           dmsetup:dmsetup losetup:mount ncdu:ncdu tmux:tmux; do
  command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "prepare: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
# The kernel package name changes with Debian point releases: ask the metapackage.
if [ ! -s "$CACHE/kver" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$pkg" ]; then apt-get update -qq >&2
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
  [ -n "$pkg" ] || { echo "prepare: cannot find Debian's kernel package" >&2; exit 1; }
  echo "${pkg#linux-image-}" > "$CACHE/kver.tmp"
  mv "$CACHE/kver.tmp" "$CACHE/kver"
fi
KVER=$(cat "$CACHE/kver")
if [ ! -f "$CACHE/kernel/boot/vmlinuz-$KVER" ]; then
  echo "prepare: fetching linux-image-$KVER" >&2
  T=$(mktemp -d); (cd "$T" && apt-get download -qq "linux-image-$KVER" >&2)
  rm -rf "$CACHE/kernel"; dpkg-deb -x "$T"/linux-image-*.deb "$CACHE/kernel"; rm -rf "$T"
  depmod -b "$CACHE/kernel" "$KVER"
fi
if ! ls "$CACHE"/udev_*.deb >/dev/null 2>&1; then
  echo "prepare: fetching udev" >&2
  (cd "$CACHE" && apt-get download -qq udev >&2)
fi
echo "$CACHE"
