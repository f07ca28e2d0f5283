"""Docker root, pool name and device prefix, decided as Docker decides them."""

from __future__ import annotations

import json
import os

from dmtui.core import dockerconfig as dc


def test_docker_major_minor_formula():
    assert (dc.docker_major(0xFD01), dc.docker_minor(0xFD01)) == (253, 1)
    assert (dc.docker_major(0x21), dc.docker_minor(0x21)) == (0, 33)
    # a minor over 255 keeps its high bits above the major (Linux's new_encode_dev)
    dev = (0x34 & 0xFF) | (259 << 8) | ((0x1234 & ~0xFF) << 12)
    assert (dc.docker_major(dev), dc.docker_minor(dev)) == (259, 0x1234)
    assert dc.docker_major(os.makedev(8, 1)) == os.major(os.makedev(8, 1))


def test_prefix_of_a_real_directory(tmp_path):
    d = tmp_path / "devicemapper"
    d.mkdir()
    st = os.stat(d)
    assert dc.device_prefix_for(str(d)) == (
        f"docker-{os.major(st.st_dev)}:{os.minor(st.st_dev)}-{st.st_ino}"
    )


def test_dockerd_args_all_forms():
    root, opts, cfg = dc.parse_dockerd_args(
        [
            "dockerd",
            "-g",
            "/data/docker",
            "--storage-opt",
            "dm.thinpooldev=/dev/mapper/vg-pool",
            "--storage-opt=dm.min_free_space=5%",
            "--config-file=/etc/x.json",
        ]
    )
    assert root == "/data/docker"
    assert opts == {"dm.thinpooldev": "/dev/mapper/vg-pool", "dm.min_free_space": "5%"}
    assert cfg == "/etc/x.json"
    assert dc.parse_dockerd_args(["dockerd", "--graph=/g"])[0] == "/g"
    assert dc.parse_dockerd_args(["dockerd", "--data-root", "/d", "-D"])[0] == "/d"
    assert dc.parse_dockerd_args(["dockerd", "--data-root"])[0] is None


def _paths(tmp_path) -> dc.SystemPaths:
    proc = tmp_path / "proc"
    proc.mkdir(exist_ok=True)
    return dc.SystemPaths(proc=str(proc), etc=str(tmp_path / "etc"))


def test_daemon_json_and_sysconfig(tmp_path):
    etc = tmp_path / "etc"
    (etc / "docker").mkdir(parents=True)
    (etc / "docker" / "daemon.json").write_text(
        json.dumps({"data-root": str(tmp_path / "root"), "storage-opts": ["dm.min_free_space=20%"]})
    )
    (etc / "sysconfig").mkdir()
    (etc / "sysconfig" / "docker-storage").write_text(
        'DOCKER_STORAGE_OPTIONS="--storage-driver devicemapper --storage-opt '
        'dm.fs=xfs --storage-opt dm.thinpooldev=/dev/mapper/docker--vg-docker--pool"\n'
    )
    cfg = dc.detect_config(paths=_paths(tmp_path))
    assert cfg.docker_root == str(tmp_path / "root")
    assert "daemon.json data-root" in cfg.docker_root_source
    assert cfg.pool_name == "docker--vg-docker--pool"
    assert cfg.pool_name_source == "/etc/sysconfig/docker-storage"
    assert cfg.min_free_percent == 20


def test_graph_key_and_default(tmp_path):
    etc = tmp_path / "etc"
    (etc / "docker").mkdir(parents=True)
    (etc / "docker" / "daemon.json").write_text('{"graph": "/old/graph"}')
    assert dc.detect_config(paths=_paths(tmp_path)).docker_root == "/old/graph"
    (etc / "docker" / "daemon.json").write_text("{broken")
    cfg = dc.detect_config(paths=_paths(tmp_path))
    assert cfg.docker_root == "/var/lib/docker"
    assert any("cannot read" in w for w in cfg.warnings)


def test_explicit_options_win_and_mapper_prefix_is_stripped(tmp_path):
    cfg = dc.detect_config(str(tmp_path), "/dev/mapper/docker-thinpool", _paths(tmp_path))
    assert cfg.docker_root == str(tmp_path)
    assert cfg.pool_name == "docker-thinpool"


def test_running_dockerd_command_line(tmp_path):
    paths = _paths(tmp_path)
    pid_dir = tmp_path / "proc" / "4242"
    pid_dir.mkdir()
    (pid_dir / "cmdline").write_bytes(
        b"/usr/bin/dockerd\0--data-root\0/srv/docker\0--storage-opt\0dm.thinpooldev=tp\0"
    )
    cfg = dc.detect_config(paths=paths)
    assert cfg.dockerd is not None and cfg.dockerd.pid == 4242
    assert cfg.docker_root == "/srv/docker"
    assert cfg.pool_name == "tp"
    # Docker 1.11: `docker daemon`
    (pid_dir / "cmdline").write_bytes(b"docker\0daemon\0-g\0/g\0")
    assert dc.detect_config(paths=paths).docker_root == "/g"


def test_min_free_space_invalid_values_fall_back():
    base = dict(docker_root="/", docker_root_source="", pool_name=None, pool_name_source="")
    assert dc.DockerConfig(**base, storage_opts={"dm.min_free_space": "5"}).min_free_percent == 10
    assert dc.DockerConfig(**base, storage_opts={"dm.min_free_space": "0%"}).min_free_percent == 0
    assert (
        dc.DockerConfig(**base, storage_opts={"dm.min_free_space": "100%"}).min_free_percent == 10
    )


def test_userns_root_followed_only_when_unique(tmp_path):
    root = tmp_path / "docker"
    (root / "165536.165536" / "containers").mkdir(parents=True)
    assert dc.follow_userns_root(str(root))[0] == str(root / "165536.165536")
    (root / "231072.231072" / "containers").mkdir(parents=True)
    assert dc.follow_userns_root(str(root))[0] == str(root)
    (root / "containers").mkdir()
    assert dc.follow_userns_root(str(root))[0] == str(root)
