"""Mount, clean, trim, unmount on a real pool; every refusal; crashes between steps."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
from conftest import dmtui, sh

pytestmark = pytest.mark.realdm

STATE = "/run/dmtui"


def dm_names() -> set[str]:
    out = sh("dmsetup", "ls")
    return {line.split("\t")[0] for line in out.splitlines() if "\t" in line}


def pool_used_blocks(pool: str) -> int:
    return int(sh("dmsetup", "status", pool).split()[5].split("/")[0])


def journal_files() -> list[str]:
    try:
        return os.listdir(os.path.join(STATE, "journal"))
    except FileNotFoundError:
        return []


def own_mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if line.split()[4].startswith(prefix)]


def digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def assert_clean(host, name: str) -> None:
    """Nothing dmtui made is left: no device, no mount, no mount point, no journal record."""
    rec = host.containers[name]
    assert host.device_name(rec.mount_id) not in dm_names()
    assert own_mounts_under(f"{STATE}/mnt") == []
    assert not os.path.exists(f"{STATE}/mnt/{rec.mount_id}")
    assert journal_files() == []


def web_untouched(host) -> None:
    rec = host.containers["web"]
    mnt = os.path.join(host.root, "devicemapper", "mnt", rec.mount_id)
    assert mnt in own_mounts_under(mnt)
    assert os.path.isdir(f"/proc/{host.pids['web']}")
    assert os.path.exists(os.path.join(mnt, "rootfs/usr/share/nginx/index.html"))


def test_full_cycle_frees_pool_blocks(seed_host):
    root = seed_host.root
    rec = seed_host.containers["kubesql-server"]
    name = seed_host.device_name(rec.mount_id)
    assert name not in dm_names()
    dry = dmtui("mount", "kubesql-server", "--rw", "--dry-run", "--docker-root", root, check=True)
    expected_table = f"'0 {rec.size // 512} thin /dev/mapper/{seed_host.pool} {rec.device_id}'"
    assert f"dmsetup create {name} --table {expected_table}" in dry.stdout
    assert name not in dm_names()  # the dry run changed nothing

    proc = dmtui("mount", "kubesql-server", "--rw", "--docker-root", root, check=True)
    rootfs = proc.stdout.strip()
    assert rootfs == f"{STATE}/mnt/{rec.mount_id}/rootfs"
    assert "+ dmsetup create" in proc.stderr  # each command shown before it runs
    # Docker's exact name and table
    assert name in dm_names()
    table = sh("dmsetup", "table", name).split()
    assert table[:3] == ["0", str(rec.size // 512), "thin"]
    assert table[3] == seed_host.pool_dev and table[4] == str(rec.device_id)
    # read-write, nouuid for xfs, mounted outside <root>/devicemapper/mnt
    with open("/proc/self/mountinfo") as fh:
        line = next(line for line in fh if line.split()[4] == os.path.dirname(rootfs))
    assert line.split()[5].startswith("rw")
    assert "nouuid" in line
    log = os.path.join(rootfs, "var/log/kubesql/kubesql.log")
    st = os.statvfs(rootfs)
    assert st.f_bavail * st.f_frsize < 2 << 20  # the seed incident: the filesystem is full
    keep = digest(os.path.join(rootfs, "var/lib/kubesql/state.db"))

    before = pool_used_blocks(seed_host.pool)
    os.remove(log)
    os.sync()
    assert pool_used_blocks(seed_host.pool) >= before - 16  # deleting alone frees nothing
    trim = dmtui("trim", "kubesql-server", "--docker-root", root, check=True)
    after = pool_used_blocks(seed_host.pool)
    assert before - after >= (40 << 20) // 65536, (before, after)  # the 48 MiB log came back
    assert "returned" in trim.stdout

    proc = dmtui("umount", "kubesql-server", "--docker-root", root, check=True)
    assert "+ umount" in proc.stderr and "+ dmsetup remove" in proc.stderr
    assert_clean(seed_host, "kubesql-server")
    web_untouched(seed_host)
    with open(f"{STATE}/commands.log") as fh:
        logged = [json.loads(line)["command"] for line in fh]
    assert any(c.startswith(f"dmsetup create {name}") for c in logged)
    assert any(c.startswith("fstrim -v") for c in logged)

    # The deletion persisted and nothing else was lost.
    rootfs = dmtui("mount", "kubesql-server", "--docker-root", root, check=True).stdout.strip()
    assert not os.path.exists(log)
    assert digest(os.path.join(rootfs, "var/lib/kubesql/state.db")) == keep
    dmtui("umount", "kubesql-server", "--docker-root", root, check=True)
    assert_clean(seed_host, "kubesql-server")


@pytest.mark.parametrize(
    ("container", "args", "needle"),
    [
        ("web", ["--rw"], "H2"),
        ("web", [], "running"),
        ("gone", [], "marked deleted"),
        ("leaky", [], "deferred removal"),
        ("kubesql-server", ["--at", "DOCKERMNT"], "lazily unmounts"),
    ],
)
def test_refusals(seed_host, container, args, needle):
    args = [
        os.path.join(seed_host.root, "devicemapper/mnt/x") if a == "DOCKERMNT" else a for a in args
    ]
    before = dm_names()
    proc = dmtui("mount", container, *args, "--docker-root", seed_host.root)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith("dmtui: ") and needle in line, proc.stderr
    assert dm_names() == before
    assert journal_files() == []


def test_read_only_mode_refuses_writes(seed_host):
    root = seed_host.root
    proc = dmtui("--read-only", "mount", "idle", "--rw", "--docker-root", root)
    assert proc.returncode == 1 and proc.stderr.startswith("dmtui: ")
    rootfs = dmtui("--read-only", "mount", "idle", "--docker-root", root, check=True).stdout
    assert os.path.isdir(rootfs.strip())
    trim = dmtui("trim", "idle", "--read-only", "--docker-root", root)
    assert trim.returncode == 1 and "trim" in trim.stderr
    with pytest.raises(OSError):
        open(os.path.join(rootfs.strip(), "new-file"), "w")  # noqa: SIM115 - read-only mount
    dmtui("umount", "idle", "--docker-root", root, check=True)
    assert_clean(seed_host, "idle")


def test_rogue_second_mapping_is_refused(seed_host):
    rec = seed_host.containers["idle"]
    sh(
        "dmsetup", "create", "rogue", "--table",
        f"0 {rec.size // 512} thin {seed_host.pool_dev} {rec.device_id}",
    )  # fmt: skip
    try:
        proc = dmtui("mount", "idle", "--docker-root", seed_host.root)
        assert proc.returncode == 1
        assert "rogue" in proc.stderr and "H1" in proc.stderr
        assert seed_host.device_name(rec.mount_id) not in dm_names()
    finally:
        sh("dmsetup", "remove", "rogue")


def test_dockers_active_unused_device_is_reused_and_left_active(seed_host):
    rec = seed_host.containers["idle"]
    name = seed_host.device_name(rec.mount_id)
    sh(
        "dmsetup", "create", name, "--table",
        f"0 {rec.size // 512} thin /dev/mapper/{seed_host.pool} {rec.device_id}",
    )  # fmt: skip
    try:
        proc = dmtui("mount", "idle", "--docker-root", seed_host.root, check=True)
        assert "reused" in proc.stderr
        assert "+ dmsetup create" not in proc.stderr
        proc = dmtui("umount", "idle", "--docker-root", seed_host.root, check=True)
        assert "+ dmsetup remove" not in proc.stderr
        assert name in dm_names()  # dmtui did not make it, so it does not remove it
        assert journal_files() == []
    finally:
        sh("dmsetup", "remove", name)


def test_umount_names_a_leaked_mount_namespace(seed_host):
    root = seed_host.root
    rec = seed_host.containers["idle"]
    rootfs = dmtui("mount", "idle", "--docker-root", root, check=True).stdout.strip()
    # A copy of our mount in another namespace, with a process inside it: dmtui's rmdir
    # detaches the copy (as Docker relies on), but the process keeps the filesystem busy.
    leak = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sleep", "600"],
        cwd=rootfs,
        start_new_session=True,
    )
    try:
        for _ in range(50):  # wait until the namespace exists
            if os.readlink(f"/proc/{leak.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"):
                break
        proc = dmtui("umount", "idle", "--docker-root", root)
        assert proc.returncode == 1
        msg = proc.stderr.strip().splitlines()[-1]
        assert msg.startswith("dmtui: ") and "busy" in msg
        assert f"pid {leak.pid} (sleep) in mount namespace" in msg
        assert not os.path.ismount(os.path.dirname(rootfs))  # our own mount is gone
        assert seed_host.device_name(rec.mount_id) in dm_names()
        status = json.loads(dmtui("status", "--json", "--docker-root", root, check=True).stdout)
        assert any("interrupted" in p["message"] or "idle" in p["message"]
                   for p in status["problems"])  # fmt: skip
    finally:
        leak.kill()
        leak.wait()
    dmtui("umount", "idle", "--docker-root", root, check=True)
    assert_clean(seed_host, "idle")


def test_umount_busy_mount_names_the_process(seed_host):
    root = seed_host.root
    rootfs = dmtui("mount", "idle", "--docker-root", root, check=True).stdout.strip()
    holder = subprocess.Popen(["sleep", "600"], cwd=rootfs)
    try:
        proc = dmtui("umount", "idle", "--docker-root", root)
        assert proc.returncode == 1
        assert f"pid {holder.pid} (sleep)" in proc.stderr
        assert "lazily" in proc.stderr
        assert os.path.ismount(os.path.dirname(rootfs))  # still mounted: no lazy unmount
    finally:
        holder.kill()
        holder.wait()
    dmtui("umount", "idle", "--docker-root", root, check=True)
    assert_clean(seed_host, "idle")


def test_not_made_by_dmtui_is_never_unmounted(seed_host):
    proc = dmtui("umount", "web", "--docker-root", seed_host.root)
    assert proc.returncode == 1 and "did not mount" in proc.stderr
    web_untouched(seed_host)


@pytest.mark.parametrize(
    ("crash_in", "crash_after", "resume"),
    [
        ("mount", "activate", "umount"),
        ("mount", "activate", "mount"),
        ("mount", "mount", "umount"),
        ("mount", "mount", "mount"),
        ("umount", "unmount", "umount"),
        ("umount", "remove", "umount"),
    ],
)
def test_sigkill_between_steps_is_finished_or_undone(seed_host, crash_in, crash_after, resume):
    root = seed_host.root
    rec = seed_host.containers["idle"]
    name = seed_host.device_name(rec.mount_id)
    crash = {"DMTUI_CRASH_AFTER": crash_after}
    if crash_in == "umount":
        rootfs = dmtui("mount", "idle", "--rw", "--docker-root", root, check=True).stdout.strip()
        keep = digest(os.path.join(rootfs, "tmp/cache.bin"))
        with open(os.path.join(rootfs, "tmp/written-before-crash"), "w") as fh:
            fh.write("kept\n")
        proc = dmtui("umount", "idle", "--docker-root", root, env=crash)
    else:
        keep = None
        proc = dmtui("mount", "idle", "--rw", "--docker-root", root, env=crash)
    assert proc.returncode == -9  # SIGKILL
    assert journal_files(), "the journal must record the interrupted step"
    status = json.loads(dmtui("status", "--json", "--docker-root", root, check=True).stdout)
    assert any("interrupted" in p["message"] for p in status["problems"])
    nxt = (
        dmtui(resume, "idle", "--rw", "--docker-root", root)
        if resume == "mount"
        else dmtui(resume, "idle", "--docker-root", root)
    )
    assert nxt.returncode == 0, nxt.stderr
    assert "interrupted" in nxt.stderr  # the next start noticed and said so
    if resume == "mount":
        rootfs = nxt.stdout.strip()
        assert os.path.ismount(os.path.dirname(rootfs)) and name in dm_names()
        dmtui("umount", "idle", "--docker-root", root, check=True)
    assert_clean(seed_host, "idle")
    if keep is not None:  # the crash hit after files were written: none of them is lost
        rootfs = dmtui("mount", "idle", "--docker-root", root, check=True).stdout.strip()
        assert digest(os.path.join(rootfs, "tmp/cache.bin")) == keep
        with open(os.path.join(rootfs, "tmp/written-before-crash")) as fh:
            assert fh.read() == "kept\n"
        dmtui("umount", "idle", "--docker-root", root, check=True)
        assert_clean(seed_host, "idle")
    web_untouched(seed_host)


def test_read_only_pool_refuses_rw_but_allows_ro(tight_host):
    pool = tight_host.pool
    table = sh("dmsetup", "table", pool).strip().split()
    ro_table = " ".join([*table[:7], "2", "skip_block_zeroing", "read_only"])
    sh("dmsetup", "suspend", pool)
    sh("dmsetup", "reload", pool, "--table", ro_table)
    sh("dmsetup", "resume", pool)
    try:
        proc = dmtui("mount", "hog", "--rw", "--docker-root", tight_host.root)
        assert proc.returncode == 1 and "H5" in proc.stderr
        rootfs = dmtui("mount", "hog", "--docker-root", tight_host.root, check=True).stdout
        assert os.path.isdir(rootfs.strip())
        dmtui("umount", "hog", "--docker-root", tight_host.root, check=True)
        assert_clean(tight_host, "hog")
    finally:
        sh("dmsetup", "suspend", pool)
        sh("dmsetup", "reload", pool, "--table", " ".join(table))
        sh("dmsetup", "resume", pool)


def test_ext4_cycle(ext4_host):
    root = ext4_host.root
    rootfs = dmtui("mount", "kubesql-server", "--rw", "--docker-root", root, check=True)
    path = rootfs.stdout.strip()
    with open("/proc/self/mountinfo") as fh:
        line = next(line for line in fh if line.split()[4] == os.path.dirname(path))
    assert " ext4 " in line and "nouuid" not in line
    os.remove(os.path.join(path, "var/log/kubesql/kubesql.log"))
    dmtui("trim", "kubesql-server", "--docker-root", root, check=True)
    dmtui("umount", "kubesql-server", "--docker-root", root, check=True)
    assert_clean(ext4_host, "kubesql-server")
