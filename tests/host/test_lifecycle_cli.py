"""`dmtui mount/umount/trim` through their contract on a machine without device-mapper.

The real operations are proven in the VM (tests/realdm); here: dry runs computed from
Docker's files, and every refusal visible in those files.
"""

from __future__ import annotations

import os

import pytest
from helpers import assert_no_traceback, run_cli, standard_root


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("DMTUI_STATE_DIR", str(tmp_path / "run"))
    root = tmp_path / "docker"
    _layout, recs = standard_root(str(root))
    st = os.stat(root / "devicemapper")
    prefix = f"docker-{os.major(st.st_dev)}:{os.minor(st.st_dev)}-{st.st_ino}"
    return str(root), recs, prefix, str(tmp_path / "run")


def one_line_refusal(result, needle: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert_no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("dmtui: ") and needle in lines[-1], result.stderr


def test_dry_run_prints_dockers_exact_commands(host):
    root, recs, prefix, run = host
    rec = recs["kubesql-server"]
    result = run_cli("mount", "kubesql-server", "--rw", "--dry-run", "--docker-root", root)
    assert result.returncode == 0, result.stderr
    name = f"{prefix}-{rec.mount_id}"
    mp = f"{run}/mnt/{rec.mount_id}"
    assert result.stdout.splitlines() == [
        f"dmsetup create {name} --table '0 {rec.size // 512} thin /dev/mapper/{prefix}-pool "
        f"{rec.device_id}'",
        f"mkdir -p {mp}",
        f"mount -t xfs -o rw,nodev,nosuid,nouuid /dev/mapper/{name} {mp}",
    ]
    assert not os.path.exists(run)  # nothing changed, not even the journal


@pytest.mark.parametrize(
    "query", ["kubesql-server", "/kubesql-server", "FULLID", "PREFIX4", "PREFIX12"]
)
def test_container_names_ids_and_prefixes(host, query):
    root, recs, _, _ = host
    cid = recs["kubesql-server"].id
    query = {"FULLID": cid, "PREFIX4": cid[:4], "PREFIX12": cid[:12]}.get(query, query)
    assert run_cli("mount", query, "--dry-run", "--docker-root", root).returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["mount", "web"], "running"),
        (["mount", "gone"], "marked deleted"),
        (["mount", "nosuch"], "no container"),
        (["mount", "abc"], "at least 4"),
        (["--read-only", "mount", "kubesql-server", "--rw"], "--read-only"),
        (["umount", "kubesql-server"], "did not mount"),
        (["trim", "kubesql-server", "--read-only"], "trim"),
    ],
)
def test_refusals_visible_in_the_files(host, args, needle):
    root, _, _, _ = host
    one_line_refusal(run_cli(*args, "--dry-run", "--docker-root", root), needle)


def test_mount_point_under_dockers_mnt_is_refused(host):
    root, _, _, _ = host
    at = os.path.join(root, "devicemapper", "mnt", "x")
    result = run_cli("mount", "kubesql-server", "--at", at, "--dry-run", "--docker-root", root)
    one_line_refusal(result, "lazily unmounts")


def test_real_run_without_device_mapper_refuses_with_a_reason(host):
    root, _, _, _ = host
    result = run_cli("mount", "kubesql-server", "--docker-root", root)
    if os.path.exists("/dev/mapper/control") and os.geteuid() == 0:
        pytest.skip("this machine has device-mapper")
    one_line_refusal(result, "device-mapper")
