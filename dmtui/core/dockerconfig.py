"""Where Docker keeps its state and which thin pool it uses, as Docker itself would decide.

Sources, in order: explicit options, the running dockerd's command line, `daemon.json`,
`/etc/sysconfig/docker-storage` (RHEL's docker-storage-setup), then Docker's defaults.
Reference: docker-devicemapper.md §1.1, §2.1, §2.8.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DOCKER_ROOT = "/var/lib/docker"
DEFAULT_MIN_FREE_PERCENT = 10
USERNS_DIR = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True, slots=True)
class SystemPaths:
    """Roots of the host interfaces; only ever changed to point a test at a prepared tree."""

    proc: str = "/proc"
    sys: str = "/sys"
    etc: str = "/etc"
    dev: str = "/dev"


@dataclass(slots=True)
class DockerdProcess:
    pid: int
    argv: list[str]


@dataclass(slots=True)
class DockerConfig:
    """What was decided, and from where, so the operator can see why."""

    docker_root: str
    docker_root_source: str
    pool_name: str | None  # None until the device prefix is known
    pool_name_source: str
    storage_opts: dict[str, str] = field(default_factory=dict)
    dockerd: DockerdProcess | None = None
    notes: list[str] = field(default_factory=list)  # how the root was found
    warnings: list[str] = field(default_factory=list)  # config files dmtui could not read

    @property
    def min_free_percent(self) -> int:
        raw = self.storage_opts.get("dm.min_free_space")
        if raw is None:
            return DEFAULT_MIN_FREE_PERCENT
        text = raw.strip()
        # Docker requires the % suffix and 0..99; anything else makes dockerd refuse to start.
        if text.endswith("%") and text[:-1].isdigit() and 0 <= int(text[:-1]) < 100:
            return int(text[:-1])
        return DEFAULT_MIN_FREE_PERCENT


def docker_major(dev: int) -> int:
    """Docker's own major() (deviceset.go), not glibc's."""
    return (dev >> 8) & 0xFFF


def docker_minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & 0xFFF00)


def device_prefix_for(path: str) -> str:
    """`docker-<maj>:<min>-<ino>` of stat(<root>/devicemapper), as Docker computes it."""
    st = os.stat(path)
    return f"docker-{docker_major(st.st_dev)}:{docker_minor(st.st_dev)}-{st.st_ino}"


def strip_mapper(name: str) -> str:
    return name[len("/dev/mapper/") :] if name.startswith("/dev/mapper/") else name


def find_dockerd(paths: SystemPaths) -> DockerdProcess | None:
    """The running Docker daemon: `dockerd`, or `docker daemon` / `docker -d` before 1.12."""
    try:
        entries = os.listdir(paths.proc)
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"{paths.proc}/{entry}/cmdline", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        argv = [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0") if a]
        if not argv:
            continue
        exe = os.path.basename(argv[0])
        if exe == "dockerd" or (exe == "docker" and any(a in ("daemon", "-d") for a in argv[1:3])):
            return DockerdProcess(int(entry), argv)
    return None


def parse_dockerd_args(argv: list[str]) -> tuple[str | None, dict[str, str], str | None]:
    """Return (data root, storage opts, config file) given on a dockerd command line."""
    root: str | None = None
    config_file: str | None = None
    opts: dict[str, str] = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        key, eq, value = arg.partition("=")
        takes_value = key in ("-g", "--graph", "--data-root", "--storage-opt", "--config-file")
        if takes_value and not eq:
            if i + 1 >= len(argv):
                break
            value = argv[i + 1]
            i += 1
        if key in ("-g", "--graph", "--data-root"):
            root = value
        elif key == "--storage-opt":
            k, _, v = value.partition("=")
            opts[k.strip().lower()] = v.strip()
        elif key == "--config-file":
            config_file = value
        i += 1
    return root, opts, config_file


def read_daemon_json(path: str) -> tuple[dict, str | None]:
    """Return (settings, problem). A missing file is not a problem."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        return {}, f"cannot read {path}: {exc}"
    if not isinstance(data, dict):
        return {}, f"{path} is not a JSON object"
    return data, None


def read_sysconfig_storage(path: str) -> dict[str, str]:
    """`DOCKER_STORAGE_OPTIONS="--storage-opt dm.thinpooldev=/dev/mapper/vg-pool ..."`."""
    opts: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return opts
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if not sep or name.strip() != "DOCKER_STORAGE_OPTIONS":
            continue
        try:
            words = shlex.split(value)
            if len(words) == 1:  # the quoted value itself holds the options
                words = shlex.split(words[0])
        except ValueError:
            continue
        _, found, _ = parse_dockerd_args(["dockerd", *words])
        opts.update(found)
    return opts


def _storage_opts_from_json(data: dict) -> dict[str, str]:
    opts: dict[str, str] = {}
    raw = data.get("storage-opts")
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, str):
                k, _, v = item.partition("=")
                opts[k.strip().lower()] = v.strip()
    return opts


def follow_userns_root(root: str) -> tuple[str, str | None]:
    """A userns-remapped daemon keeps everything in `<root>/<uid>.<gid>/`.

    Followed only when `<root>` has no `containers/` of its own and exactly one such
    directory holds one.
    """
    if os.path.isdir(os.path.join(root, "containers")):
        return root, None
    try:
        candidates = [
            e
            for e in sorted(os.listdir(root))
            if USERNS_DIR.match(e) and os.path.isdir(os.path.join(root, e, "containers"))
        ]
    except OSError:
        return root, None
    if len(candidates) == 1:
        return os.path.join(root, candidates[0]), f"followed userns-remap root {candidates[0]}"
    return root, None


def detect_config(
    docker_root: str | None = None,
    pool: str | None = None,
    paths: SystemPaths | None = None,
) -> DockerConfig:
    paths = paths or SystemPaths()
    notes: list[str] = []
    warnings: list[str] = []
    dockerd = find_dockerd(paths)
    cmd_root: str | None = None
    cmd_opts: dict[str, str] = {}
    config_file = os.path.join(paths.etc, "docker", "daemon.json")
    if dockerd:
        cmd_root, cmd_opts, cfg = parse_dockerd_args(dockerd.argv)
        if cfg:
            config_file = cfg
    daemon_json, problem = read_daemon_json(config_file)
    if problem:
        warnings.append(problem)
    json_opts = _storage_opts_from_json(daemon_json)
    sysconfig_opts = read_sysconfig_storage(os.path.join(paths.etc, "sysconfig", "docker-storage"))

    if docker_root:
        root, root_source = docker_root, "--docker-root"
    elif cmd_root:
        root, root_source = cmd_root, f"dockerd command line (pid {dockerd.pid})"  # type: ignore[union-attr]
    elif isinstance(daemon_json.get("data-root"), str):
        root, root_source = daemon_json["data-root"], f"{config_file} data-root"
    elif isinstance(daemon_json.get("graph"), str):
        root, root_source = daemon_json["graph"], f"{config_file} graph"
    else:
        root, root_source = DEFAULT_DOCKER_ROOT, "default"
    root = os.path.abspath(root)
    root, userns_note = follow_userns_root(root)
    if userns_note:
        notes.append(userns_note)

    # Storage options: later sources only fill what earlier ones left unset.
    storage_opts: dict[str, str] = {}
    for source in (cmd_opts, json_opts, sysconfig_opts):
        for k, v in source.items():
            storage_opts.setdefault(k, v)

    if pool:
        pool_name, pool_source = strip_mapper(pool), "--pool"
    else:
        pool_name, pool_source = None, "<device prefix>-pool"
        for opts, where in (
            (cmd_opts, "dockerd command line"),
            (json_opts, f"{config_file} storage-opts"),
            (sysconfig_opts, "/etc/sysconfig/docker-storage"),
        ):
            if opts.get("dm.thinpooldev"):
                pool_name, pool_source = strip_mapper(opts["dm.thinpooldev"]), where
                break
    return DockerConfig(
        root, root_source, pool_name, pool_source, storage_opts, dockerd, notes, warnings
    )
