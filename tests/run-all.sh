#!/bin/bash
# Every test of dmtui, on a fresh Debian 12 machine (run as root):
#   1. a venv in .venv with dmtui and its test extras, and ruff over the code;
#   2. the host suite (parsers, docker roots, disk-usage engine, TUI on the demo host);
#   3. the real-kernel suite in a qemu VM with Debian's kernel, without and with udevd.
# Exit status is non-zero if anything failed. DMTUI_SKIP_VM=1 runs only 1 and 2.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
TOP=$PWD
PY=${PYTHON:-python3}
step() { printf '\n=== %s\n' "$*"; }

step "venv and dependencies"
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv || exit 1; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' || exit 1
VPY=$TOP/.venv/bin/python

# apt packages the tests use (ncdu, xfsprogs, qemu, ...) and the VM kernel, cached.
step "system packages"
if [ "$(id -u)" = 0 ]; then
  tests/vm/prepare.sh >/dev/null || { echo "preparing the machine failed"; exit 1; }
else
  echo "not root: skipping apt packages (tests that need them are skipped or fail)"
fi

failed=()
step "ruff"
.venv/bin/ruff check dmtui tests benchmarks screenshots || failed+=(ruff)

step "host tests"
OUT=${DMTUI_VM_OUT:-$TOP/tests/vm/out}
mkdir -p "$OUT"
rm -f "$OUT"/host-junit.xml "$OUT"/udev*/junit.xml
$VPY -m pytest -m "not realdm" -p no:cacheprovider --junitxml="$OUT/host-junit.xml" || failed+=(host)

if [ "${DMTUI_SKIP_VM:-0}" != 1 ]; then
  # Byte-compile on the host: the guest's writes are thrown away, and emulated imports are slow.
  $VPY -m compileall -q dmtui tests >/dev/null
  mkdir -p "$OUT"
  # Both udev modes at once, one emulated CPU each: the tests keep one CPU busy anyway.
  start=$(date +%s)
  pids=()
  for udev in 0 1; do
    mkdir -p "$OUT/udev$udev"
    SMP=1 VM_UDEV=$udev VM_QUIET=1 VM_MODULES="dm-thin-pool xfs ext4 loop" VM_TIMEOUT=900 \
      tests/vm/run-vm.sh -m 2048 -o "$OUT/udev$udev" -- \
      "$VPY" -m pytest -m realdm -p no:cacheprovider -v tests/realdm \
        --junitxml="$OUT/udev$udev/junit.xml" > "$OUT/udev$udev/host.log" 2>&1 &
    pids+=($!)
  done
  for udev in 0 1; do
    wait "${pids[$udev]}"; rc=$?
    step "real-kernel tests in the VM, VM_UDEV=$udev (rc=$rc)"
    cat "$OUT/udev$udev/guest.log" 2>/dev/null; cat "$OUT/udev$udev/host.log"
    [ $rc -eq 0 ] || failed+=("realdm-udev$udev")
  done
  echo "real-kernel VMs took $(( $(date +%s) - start )) s"
fi

step "summary"
# One closing line over every suite (host and both VMs), from their junit reports.
$VPY - "$OUT" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sorted(glob.glob(f"{sys.argv[1]}/host-junit.xml") + glob.glob(f"{sys.argv[1]}/udev*/junit.xml")):
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        n, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += n - f - e - s
        failed += f + e
        skipped += s
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
PY
if [ ${#failed[@]} -gt 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all test suites passed"
