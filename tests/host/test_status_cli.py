"""`dmtui status` through its contract, on Docker roots written in Docker's format."""

from __future__ import annotations

import json
import os

import pytest
from helpers import MIB, assert_no_traceback, run_cli, standard_root

from dmtui.demo.docker_layout import DockerLayout, fake_id

CONTAINER_KEYS = {
    "id",
    "name",
    "image",
    "state",
    "mount_id",
    "device_id",
    "device_name",
    "size_bytes",
    "deleted",
    "active",
    "mounted_at",
}


def status(root, *extra) -> dict:
    result = run_cli("status", "--json", "--docker-root", str(root), *extra)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    return result.json


def test_contract_fields_and_values(tmp_path):
    root = tmp_path / "docker"
    _, recs = standard_root(str(root))
    data = status(root)
    st = os.stat(root / "devicemapper")
    prefix = f"docker-{os.major(st.st_dev)}:{os.minor(st.st_dev)}-{st.st_ino}"
    assert data["docker_root"] == str(root)
    assert data["device_prefix"] == prefix
    assert data["pool_name"] == prefix + "-pool"
    assert data["pool"] is None  # no device-mapper on this machine (or not root)
    assert isinstance(data["devices"], list)
    names = [c["name"] for c in data["containers"]]
    assert names == sorted(names) == ["gone", "kubesql-server", "web"]
    by_name = {c["name"]: c for c in data["containers"]}
    for c in data["containers"]:
        assert set(c) >= CONTAINER_KEYS
    k = by_name["kubesql-server"]
    rec = recs["kubesql-server"]
    assert k["id"] == rec.id and k["mount_id"] == rec.mount_id
    assert k["device_id"] == rec.device_id and k["size_bytes"] == 10 << 30
    assert k["device_name"] == f"{prefix}-{rec.mount_id}"
    assert k["state"] == "exited" and k["image"] == "kubesql:2.1"
    assert k["deleted"] is False and k["active"] is False and k["mounted_at"] == []
    assert by_name["web"]["state"] == "running"
    assert by_name["gone"]["deleted"] is True
    messages = [p["message"] for p in data["problems"]]
    assert any("marked deleted" in m and recs["gone"].id[:12] in m for m in messages)
    assert any("device-mapper not readable" in m for m in messages)
    assert {p["severity"] for p in data["problems"]} <= {"error", "warning"}


def test_states_and_stale_running(tmp_path):
    root = tmp_path / "docker"
    layout = DockerLayout(str(root))
    layout.init_driver()
    layer = layout.add_image_layer("l")
    for state in ("paused", "restarting", "created", "dead", "exited"):
        layout.add_container(state, "img", layer, state=state, pid=os.getpid())
    stale = layout.add_container("stale", "img", layer, state="running", pid=999_999_999)
    data = status(root)
    states = {c["name"]: c["state"] for c in data["containers"]}
    assert states == {
        "paused": "paused",
        "restarting": "restarting",
        "created": "created",
        "dead": "dead",
        "exited": "exited",
        "stale": "running",
    }
    stale_problems = [p for p in data["problems"] if "stale" in p["message"]]
    assert len(stale_problems) == 1 and stale.id[:12] in stale_problems[0]["message"]
    assert stale_problems[0]["severity"] == "warning"


def test_migrated_container_uses_its_id_as_mount_id(tmp_path):
    root = tmp_path / "docker"
    layout = DockerLayout(str(root))
    layout.init_driver()
    rec = layout.add_container("old", "centos:6", layout.add_image_layer("l"), migrated=True)
    (c,) = status(root)["containers"]
    assert c["mount_id"] == rec.id and c["device_id"] == rec.device_id


HOSTILE = ["[red]x[/red]", "\x1b[2Jboom", "new\nline", "bad\udcffutf8"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_are_exact_in_json_and_neutralised_in_text(tmp_path, hostile):
    root = tmp_path / "docker"
    layout = DockerLayout(str(root))
    layout.init_driver()
    rec = layout.add_container("plain", "img", layout.add_image_layer("l"))
    cfg_path = root / "containers" / rec.id / "config.v2.json"
    cfg = json.loads(cfg_path.read_text())
    raw_name = hostile.encode("utf-8", "surrogateescape")
    # Write the name as raw bytes, as a hostile Docker file could hold them.
    text = json.dumps(cfg).replace('"/plain"', '"/__NAME__"').encode()
    name_json = json.dumps(hostile.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    if b"\xff" in raw_name:
        text = text.replace(b'"/__NAME__"', b'"/bad\xffutf8"')
    else:
        text = text.replace(b'"/__NAME__"', b'"/' + name_json[1:-1].encode() + b'"')
    cfg_path.write_bytes(text)
    result = run_cli("status", "--docker-root", str(root))
    assert result.returncode == 0
    assert_no_traceback(result)
    assert "\x1b" not in result.stdout
    line = next(line for line in result.stdout.splitlines() if "img" in line)
    assert "\n" not in line
    if hostile == "[red]x[/red]":
        assert "[red]x[/red]" in line  # shown literally, not as markup
    data = run_cli("status", "--json", "--docker-root", str(root))
    assert data.returncode == 0
    (c,) = data.json["containers"]
    if b"\xff" not in raw_name:
        assert c["name"] == hostile
    assert c["device_id"] == rec.device_id


def test_bad_input_each_reported_and_good_containers_right(tmp_path):
    root = tmp_path / "docker"
    layout, recs = standard_root(str(root))
    layer = layout.add_image_layer("extra")
    bad = {
        n: layout.add_container(n, "img", layer)
        for n in ("corrupt", "truncated", "nomountid", "nometa", "dirconfig", "bigid", "emptycfg")
    }
    cdir = root / "containers"
    (cdir / bad["corrupt"].id / "config.v2.json").write_text("{not json")
    cfg = (cdir / bad["truncated"].id / "config.v2.json").read_text()
    (cdir / bad["truncated"].id / "config.v2.json").write_text(cfg[: len(cfg) // 2])
    os.remove(root / "image/devicemapper/layerdb/mounts" / bad["nomountid"].id / "mount-id")
    os.remove(root / "devicemapper/metadata" / bad["nometa"].mount_id)
    os.remove(cdir / bad["dirconfig"].id / "config.v2.json")
    os.mkdir(cdir / bad["dirconfig"].id / "config.v2.json")
    (root / "devicemapper/metadata" / bad["bigid"].mount_id).write_text(
        '{"device_id":16777216,"size":10737418240,"transaction_id":3,"initialized":false,'
        '"deleted":false}'
    )
    (cdir / bad["emptycfg"].id / "config.v2.json").write_text("")
    os.mkdir(cdir / "0123456789ab0000000000000000000000000000000000000000000000000000")
    data = status(root)
    by_id = {c["id"]: c for c in data["containers"]}
    problems = " | ".join(p["message"] for p in data["problems"])
    # good containers are right
    good = by_id[recs["kubesql-server"].id]
    assert (
        good["name"] == "kubesql-server" and good["device_id"] == recs["kubesql-server"].device_id
    )
    for name in ("corrupt", "truncated", "dirconfig", "emptycfg"):
        c = by_id[bad[name].id]
        assert c["name"] is None and c["image"] is None and c["state"] is None
        assert bad[name].id[:12] in problems
    assert "is a directory" in problems
    assert by_id[bad["nomountid"].id]["mount_id"] is None
    assert by_id[bad["nomountid"].id]["device_id"] is None
    assert "missing mount-id" in problems
    assert by_id[bad["nometa"].id]["device_id"] is None
    assert by_id[bad["nometa"].id]["size_bytes"] is None
    assert bad["nometa"].mount_id[:12] in problems
    big = by_id[bad["bigid"].id]
    assert big["device_id"] is None and big["size_bytes"] is None
    assert "0xffffff" in problems
    # a container dir without any config is listed with nulls
    assert by_id["0123456789ab0000000000000000000000000000000000000000000000000000"]["name"] is None


def test_orphans_and_layer_mounts_without_container(tmp_path):
    root = tmp_path / "docker"
    _layout, _recs = standard_root(str(root))
    (root / "devicemapper/metadata" / fake_id("orphan")).write_text(
        '{"device_id":99,"size":1,"transaction_id":99,"initialized":false,"deleted":false}'
    )
    (root / "image/devicemapper/layerdb/mounts" / fake_id("builder")).mkdir()
    (root / "devicemapper/metadata/.tmp12345").write_text("{")  # Docker's temp file: skipped
    problems = " | ".join(p["message"] for p in status(root)["problems"])
    assert "orphan metadata" in problems and fake_id("orphan")[:12] in problems
    assert fake_id("builder")[:12] in problems and "no container directory" in problems
    assert ".tmp12345" not in problems


def test_userns_remap_root_is_followed(tmp_path):
    root = tmp_path / "docker"
    standard_root(str(root / "165536.165536"))
    os.makedirs(root / "devicemapper", exist_ok=True)
    data = status(root)
    assert data["docker_root"] == str(root / "165536.165536")
    assert len(data["containers"]) == 3


def test_not_a_docker_root_still_exits_zero_with_a_problem(tmp_path):
    data = status(tmp_path)
    assert data["containers"] == []
    assert data["device_prefix"] is None
    assert any("not a devicemapper docker root" in p["message"] for p in data["problems"])


def test_exit_codes_and_global_options_anywhere(tmp_path):
    root = tmp_path / "docker"
    standard_root(str(root))
    assert run_cli("--docker-root", str(root), "status", "--json").returncode == 0
    assert run_cli("status", "--docker-root", str(root), "--read-only").returncode == 0
    usage = run_cli("status", "--bogus")
    assert usage.returncode == 2
    assert_no_traceback(usage)
    assert run_cli("--version").stdout.startswith("dmtui ")
    assert "status" in run_cli("--help").stdout


def test_human_output_fits_80_columns(tmp_path):
    root = tmp_path / "docker"
    layout, _ = standard_root(str(root))
    layout.add_container(
        "x" * 70,
        "registry.example.com/very/long/image:" + "t" * 40,
        layout.add_image_layer("z"),
        state="exited",
        size=3 * MIB,
    )
    result = run_cli("status", "--docker-root", str(root))
    assert result.returncode == 0
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 80, result.stdout
