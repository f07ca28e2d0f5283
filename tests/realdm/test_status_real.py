"""`dmtui status` on real Docker hosts, compared with what the kernel itself reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import dmtui, sh, udev_mode

pytestmark = pytest.mark.realdm


def status(host) -> dict:
    proc = dmtui("status", "--json", "--docker-root", host.root, check=True)
    return json.loads(proc.stdout)


def kernel_devices() -> dict[str, tuple[int, int]]:
    out = sh(
        "dmsetup", "info", "-c", "--noheadings", "--separator", "|", "-o", "name,major,minor,open"
    )
    result = {}
    for line in out.splitlines():
        name, major, minor, open_count = line.strip().split("|")
        result[name] = (int(major), int(minor), int(open_count))
    return result


def test_pool_numbers_equal_the_kernel(seed_host):
    data = status(seed_host)
    pool = data["pool"]
    fields = sh("dmsetup", "status", seed_host.pool).split()
    table = sh("dmsetup", "table", seed_host.pool).split()
    block = int(table[5]) * 512
    meta_used, meta_total = (int(x) for x in fields[4].split("/"))
    data_used, data_total = (int(x) for x in fields[5].split("/"))
    assert data["pool_name"] == seed_host.pool == f"{data['device_prefix']}-pool"
    assert pool["transaction_id"] == int(fields[3])
    assert pool["data_block_bytes"] == block == 65536
    assert pool["data_used_bytes"] == data_used * block
    assert pool["data_total_bytes"] == data_total * block
    assert pool["metadata_used_bytes"] == meta_used * 4096
    assert pool["metadata_total_bytes"] == meta_total * 4096
    assert pool["mode"] == "rw" and pool["needs_check"] is False
    assert pool["min_free_bytes"] == data_total * 10 // 100 * block
    # Docker's invariant: pool transaction id == transaction-metadata open_transaction_id
    with open(os.path.join(seed_host.root, "devicemapper/metadata/transaction-metadata")) as fh:
        assert json.load(fh)["open_transaction_id"] == pool["transaction_id"]


def test_devices_equal_dmsetup_with_names_from_sysfs(seed_host):
    data = status(seed_host)
    kernel = kernel_devices()
    ours = {d["name"]: (d["major"], d["minor"], d["open_count"]) for d in data["devices"]}
    assert ours == kernel
    for d in data["devices"]:
        with open(f"/sys/block/{d['kernel_name']}/dm/name") as fh:
            assert fh.read().strip() == d["name"]
    targets = {d["name"]: d["target"] for d in data["devices"]}
    assert targets[seed_host.pool] == "thin-pool"
    # Without udevd there are no /dev/mapper nodes for thin devices, and names are still right.
    web = seed_host.device_name(seed_host.containers["web"].mount_id)
    assert os.path.exists(f"/dev/mapper/{web}") == (udev_mode() == "udevd")


def test_each_scenario_container(seed_host):
    data = status(seed_host)
    by_name = {c["name"]: c for c in data["containers"]}
    full = by_name["kubesql-server"]
    rec = seed_host.containers["kubesql-server"]
    assert full["state"] == "exited" and full["exit_code"] == 137
    assert full["device_id"] == rec.device_id and full["active"] is False
    assert full["device_name"] == seed_host.device_name(rec.mount_id)
    assert full["size_bytes"] == 320 << 20

    web = by_name["web"]
    mnt = os.path.join(seed_host.root, "devicemapper", "mnt", seed_host.containers["web"].mount_id)
    assert web["state"] == "running" and web["stale"] is False
    assert web["active"] is True and mnt in web["mounted_at"]

    assert by_name["gone"]["deleted"] is True

    leaky = by_name["leaky"]
    assert leaky["active"] is True
    assert os.path.join(seed_host.base_dir, "leak-mnt") in leaky["mounted_at"]
    leak_dev = next(d for d in data["devices"] if d["name"] == leaky["device_name"])
    assert leak_dev["deferred_remove"] is True
    (m,) = leak_dev["mounts"]
    assert m["pid"] != os.getpid() and m["own_namespace"] is False
    # the leaked mount is invisible in our own /proc/self/mounts: that is the point
    with open("/proc/self/mounts") as fh:
        assert "leak-mnt" not in fh.read()

    messages = " | ".join(p["message"] for p in data["problems"])
    assert "deferred removal pending" in messages
    assert "marked deleted" in messages


def test_human_status_fits_80_columns(seed_host):
    # The real console entry point, exec'ed like an operator's shell does.
    proc = subprocess.run(
        [sys.executable, "-m", "dmtui", "status", "--docker-root", seed_host.root],
        capture_output=True,
        text=True,
        check=True,
    )
    out = proc.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "kubesql-server" in out and "thin-pool" in out


def test_pool_near_min_free_space(tight_host):
    data = status(tight_host)
    pool = data["pool"]
    free = pool["data_total_bytes"] - pool["data_used_bytes"]
    assert free < pool["min_free_bytes"]
    assert pool["mode"] == "rw"
    assert pool["docker_refuses_new_devices"]
    assert any("dm.min_free_space" in p["message"] for p in data["problems"])


def test_ext4_host(ext4_host):
    data = status(ext4_host)
    assert data["pool"]["mode"] == "rw"
    assert {c["name"] for c in data["containers"]} >= {"kubesql-server", "web"}


def test_transaction_behind_is_an_error(seed_host, tmp_path):
    """Docker would roll back if transaction-metadata is ahead of the pool (H7)."""
    path = os.path.join(seed_host.root, "devicemapper/metadata/transaction-metadata")
    with open(path) as fh:
        original = fh.read()
    tx = json.loads(original)
    try:
        with open(path, "w") as fh:
            json.dump({**tx, "open_transaction_id": tx["open_transaction_id"] + 1}, fh)
        data = status(seed_host)
        assert any(
            p["severity"] == "error" and "rolls back" in p["message"] for p in data["problems"]
        )
    finally:
        with open(path, "w") as fh:
            fh.write(original)
