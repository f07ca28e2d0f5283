#!/bin/bash
# run-vm.sh — run a command inside a throw-away qemu VM that has a real
# device-mapper-capable kernel (Debian linux-image-amd64), whose root fs is the
# HOST root shared read-only over virtio-9p with a tmpfs overlay on top.
# The kernel, udev package and initramfs are cached by prepare.sh in $DMTUI_VM_CACHE
# (default /var/cache/dmtui-vm), outside the checkout.
#
#   usage: run-vm.sh [-o OUTDIR] [-m MEM_MB] -- command [args...]
#   exit status = exit status of the command in the guest (or 125 on VM failure)
#   env: VM_MODULES="dm-thin-pool xfs loop" (modprobe'd first), VM_UDEV=1 (start
#        systemd-udevd from $VMDIR/udev_*.deb), VM_TIMEOUT=600, SMP, CPU, TB_MB,
#        VM_QUIET=1 (don't echo guest output), KAPPEND (extra kernel args)
#
# The command runs as root with cwd = the caller's cwd and PATH/HOME/VIRTUAL_ENV
# copied from the caller.  Only OUTDIR (default $VMDIR/out) is writable back to
# the host; everything else written in the guest is discarded.
# The same file is also the guest's stage-2 init (argv[1] == --stage2).
set -euo pipefail
SELF=$(readlink -f "$0")
VMDIR=${DMTUI_VM_CACHE:-/var/cache/dmtui-vm}
KVER=${KVER:-$(cat "$VMDIR/kver" 2>/dev/null || uname -r)}
KROOT=$VMDIR/kernel                # dpkg-deb -x of linux-image-$KVER
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
VMLINUX=$VMDIR/vmlinux-$KVER        # uncompressed ELF: qemu boots it via PVH, ~3.5s faster
MODDIR=$KROOT/lib/modules/$KVER

# ---------------------------------------------------------------- guest stage 2
if [ "${1:-}" = --stage2 ]; then       # PID 1 inside the guest, on the overlay root
  set +e; KVER=$(uname -r)
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  mount -t proc proc /proc; mount -t sysfs sysfs /sys
  VMDIR=$(sed -n 's/.* vmcache=\([^ ]*\).*/\1/p' /proc/cmdline)
  KROOT=$VMDIR/kernel; MODDIR=$KROOT/lib/modules/$KVER
  mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
  mount -t tmpfs -o mode=755 tmpfs /run
  mkdir -p /lib/modules/$KVER && mount --bind "$MODDIR" /lib/modules/$KVER
  hostname dmtui-vm; ip link set lo up 2>/dev/null
  OUT=$(sed -n 's/.* vmout=\([^ ]*\).*/\1/p' /proc/cmdline)
  if grep -q ' vmudev=1' /proc/cmdline; then   # real udevd, "installed" into the throw-away overlay
    dpkg-deb --fsys-tarfile "$VMDIR"/udev_*.deb | tar -x --keep-directory-symlink -C /
    /lib/systemd/systemd-udevd --daemon; udevadm trigger --action=add --subsystem-match=block; udevadm settle
  fi
  export RUN_VM_GUEST=1
  echo "@@@ stage2 ready uptime=$(cut -d' ' -f1 /proc/uptime)s"
  bash "$OUT/.cmd.sh" </dev/null 2>&1 | tee "$OUT/guest.log"
  rc=${PIPESTATUS[0]}
  echo "$rc" > "$OUT/.rc"; sync
  echo "@@@ guest command rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)s"
  umount "$OUT" 2>/dev/null
  busybox poweroff -f; echo o > /proc/sysrq-trigger; exit 1   # power off -> qemu exits
fi

# ---------------------------------------------------------------- host side
OUT=$VMDIR/out; MEM=1024
while getopts "o:m:" o; do case $o in o) OUT=$OPTARG;; m) MEM=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND-1)); [ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [-o OUTDIR] [-m MB] -- cmd..." >&2; exit 2; }
mkdir -p "$OUT"; OUT=$(readlink -f "$OUT"); rm -f "$OUT/.rc" "$OUT/guest.log"
[ -f "$MODDIR/modules.dep" ] || depmod -b "$KROOT" "$KVER"
# Caches are written to a temp name and renamed, so VMs started in parallel never see half.
[ -s "$VMLINUX" ] || { python3 -c 'import lzma,sys; d=open(sys.argv[1],"rb").read()
open(sys.argv[2],"wb").write(lzma.LZMADecompressor().decompress(d[d.find(b"\xfd7zXZ\0"):]))' "$VMLINUZ" "$VMLINUX.$$" && mv "$VMLINUX.$$" "$VMLINUX"; }

# initramfs: busybox + just the modules needed to mount 9p + overlay, cached
INITRD=$VMDIR/initrd.cpio.gz
if [ ! -f "$INITRD" ] || [ "$SELF" -nt "$INITRD" ]; then
  T=$(mktemp -d); mkdir -p "$T"/{bin,proc,sys,dev,mods,lower,upper,newroot}
  cp /bin/busybox "$T/bin/busybox"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r f; do cp "$f" "$T/mods/"; basename "$f" >> "$T/mods/order"; done
  cat > "$T/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "insmod $m failed"; done
arg() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower || exec sh
mount -t tmpfs -o mode=755 tmpfs /upper; mkdir /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot || exec sh
OUT=$(arg vmout); SELF=$(arg vmself); mkdir -p /newroot$OUT
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /newroot$OUT || exec sh
umount /proc /sys; mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$SELF" --stage2
EOF
  chmod +x "$T/init"
  (cd "$T" && find . | busybox cpio -o -H newc | gzip -1) > "$INITRD.$$" && mv "$INITRD.$$" "$INITRD"
  rm -rf "$T"
fi

# the command, run in the guest with the caller's cwd and env basics
{ echo "cd $(printf %q "$PWD")"
  for v in PATH HOME VIRTUAL_ENV PYTHONPATH LANG TERM DMTUI_TEST_TAG; do
    [ -n "${!v:-}" ] && echo "export $v=$(printf %q "${!v}")"; done
  [ -n "${VM_MODULES:-}" ] && echo "modprobe -a $VM_MODULES || exit 126"
  printf '%q ' "$@"; echo; } > "$OUT/.cmd.sh"

ACCEL=${ACCEL:-tcg,tb-size=${TB_MB:-128}}   # kvm does not work on PVM hosts with a stock guest kernel
[ "${ACCEL%%,*}" = kvm ] && CPU=${CPU:-host,-arch-capabilities}; CPU=${CPU:-max}
set +e
timeout "${VM_TIMEOUT:-600}" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -smp "${SMP:-2}" -m "$MEM" \
  -nodefaults -no-user-config -display none -no-reboot -serial stdio \
  -kernel "$VMLINUX" -initrd "$INITRD" \
  -append "console=ttyS0 quiet panic=-1 mitigations=off ${KAPPEND:-} vmudev=${VM_UDEV:-0} vmout=$OUT vmself=$SELF vmcache=$VMDIR" \
  -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
  -fsdev local,id=o,path="$OUT",security_model=none,multidevs=remap \
  -device virtio-9p-pci,fsdev=o,mount_tag=out \
  < /dev/null > "$OUT/console.log" 2>&1
qrc=$?
set -e
[ -n "${VM_QUIET:-}" ] || cat "$OUT/guest.log" 2>/dev/null || true
if [ ! -s "$OUT/.rc" ]; then
  echo "run-vm: VM failed (qemu rc=$qrc); console tail:" >&2; tail -30 "$OUT/console.log" >&2; exit 125
fi
exit "$(cat "$OUT/.rc")"
