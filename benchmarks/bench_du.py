"""Scan and delete a generated tree with dmtui, ncdu, GNU du and rm -rf; print a table.

    python benchmarks/bench_du.py [--dir /var/tmp/dmtui-bench] [--runs 3] [--files 300000]

Needs root for the cold-cache runs (it writes /proc/sys/vm/drop_caches); without root only
the warm runs are made. The tree is deterministic: about 300k files in 20k directories,
with sparse files and hard links. Peak memory is the child's maximum RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable


def generate(root: str, files: int, dirs: int) -> None:
    rng = random.Random(20261128)
    os.makedirs(root)
    top = max(1, round(dirs ** (1 / 3)))
    made: list[str] = []
    for i in range(dirs):
        a, b = i % top, (i // top) % top
        path = os.path.join(root, f"d{a:02d}", f"e{b:02d}", f"f{i:05d}")
        os.makedirs(path, exist_ok=True)
        made.append(path)
    payload = os.urandom(65536)
    previous = None
    for n in range(files):
        path = os.path.join(made[n % dirs], f"file-{n:06d}.dat")
        if n % 997 == 0:
            with open(path, "wb") as fh:  # sparse: 16 MiB apparent, one block written
                fh.truncate(16 << 20)
                fh.write(b"x")
        elif n % 499 == 0 and previous:
            os.link(previous, path)
        else:
            size = rng.choice((0, 100, 700, 3000, 5000, 9000, 20000))
            with open(path, "wb") as fh:
                fh.write(payload[:size])
        previous = path


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of `argv` (run through a fresh waiter)."""
    code = (
        "import resource,subprocess,sys,time\n"
        "t=time.perf_counter()\n"
        "p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)\n"
        "dt=time.perf_counter()-t\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n"
    )
    out = subprocess.run([PYTHON, "-c", code, *argv], capture_output=True, text=True, check=True)
    seconds, rss_kib, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{argv} failed with {rc}")
    return float(seconds), int(rss_kib) / 1024


def runs(argv: list[str], n: int, cold: bool) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(n):
        if cold and not drop_caches():
            return float("nan"), float("nan")
        t, m = measure(argv)
        times.append(t)
        peaks.append(m)
    return statistics.median(times), max(peaks)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="/var/tmp/dmtui-bench")
    p.add_argument("--files", type=int, default=300_000)
    p.add_argument("--dirs", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--skip-delete", action="store_true")
    args = p.parse_args()
    tree = os.path.join(args.dir, "tree")
    if not os.path.isdir(tree):
        print(f"generating {args.files} files in {args.dirs} directories under {tree} ...")
        t = time.perf_counter()
        generate(tree, args.files, args.dirs)
        print(f"  done in {time.perf_counter() - t:.1f} s")
    dmtui = [PYTHON, "-m", "dmtui", "du", tree]
    tools = {
        "dmtui du": dmtui,
        "ncdu -o /dev/null -x": ["ncdu", "-o", "/dev/null", "-x", tree],
        "du -sx": ["du", "-sx", tree],
    }
    rows = []
    for cache in ("warm", "cold"):
        cold = cache == "cold"
        if not cold:
            for argv in tools.values():
                measure(argv)  # fill the cache
        results = {name: runs(argv, args.runs, cold) for name, argv in tools.items()}
        base = results["ncdu -o /dev/null -x"][0]
        for name, (t, m) in results.items():
            rows.append((f"scan, {cache} cache", name, t, t / base if base else float("nan"), m))
    if not args.skip_delete:
        copies = {}
        for name in ("rm -rf", "dmtui delete"):
            copy = os.path.join(args.dir, f"copy-{name.split()[0]}")
            shutil.rmtree(copy, ignore_errors=True)
            subprocess.run(["cp", "-a", tree, copy], check=True)
            copies[name] = copy
        drop_caches()
        t_rm, m_rm = measure(["rm", "-rf", copies["rm -rf"]])
        drop_caches()
        t_dm, m_dm = measure([PYTHON, os.path.join(HERE, "delete_tree.py"), copies["dmtui delete"]])
        rows.append(("delete tree (scan + delete)", "rm -rf", t_rm, 1.0, m_rm))
        rows.append(("delete tree (scan + delete)", "dmtui", t_dm, t_dm / t_rm, m_dm))
    print()
    print(
        f"| what | tool | median s | ratio | peak MiB |  ({args.runs} runs, {os.cpu_count()} cores)"
    )
    print("|---|---|---:|---:|---:|")
    for what, tool, t, ratio, mem in rows:
        print(f"| {what} | {tool} | {t:.2f} | {ratio:.2f} | {mem:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
