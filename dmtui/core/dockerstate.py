"""Read Docker's on-disk state: containers, the layer store and devicemapper metadata.

Every file here is untrusted input. A bad file never stops the read: it becomes a Problem
that names the container (12-character id) or the device hash, and the file at fault.
Reference: docker-devicemapper.md §1.2-1.5, §1.7.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from dmtui.core.problems import Problem

MAX_DEVICE_ID = 0xFFFFFF
ZERO_TIME = "0001-01-01T00:00:00Z"
SET_WIDE_FILES = ("deviceset-metadata", "transaction-metadata")


@dataclass(slots=True)
class DeviceMeta:
    """One `devicemapper/metadata/<hash>` file."""

    hash: str
    device_id: int | None
    size: int | None
    transaction_id: int | None
    initialized: bool
    deleted: bool


@dataclass(slots=True)
class Container:
    id: str
    name: str | None
    image: str | None
    state: str | None
    running: bool = False
    paused: bool = False
    restarting: bool = False
    pid: int = 0
    stale: bool = False  # State.Running but the pid is gone
    exit_code: int | None = None
    finished_at: str | None = None
    restart_policy: str | None = None
    driver: str | None = None
    mount_id: str | None = None
    mount_id_source: str | None = None  # "layerdb" | "container id (migrated)"
    device: DeviceMeta | None = None

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(slots=True)
class TransactionMeta:
    open_transaction_id: int
    device_hash: str
    device_id: int


@dataclass(slots=True)
class DockerState:
    root: str
    containers: list[Container] = field(default_factory=list)
    devices: dict[str, DeviceMeta] = field(default_factory=dict)  # by hash ("base" for base)
    layer_cache_ids: set[str] = field(default_factory=set)
    transaction: TransactionMeta | None = None
    base_filesystem: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def metadata_dir(self) -> str:
        return os.path.join(self.root, "devicemapper", "metadata")

    def container_mount_ids(self) -> set[str]:
        return {c.mount_id for c in self.containers if c.mount_id}


def short(hash_: str) -> str:
    return hash_[:12]


def _read_text(path: str) -> str:
    """Read a small file; raise OSError (including IsADirectoryError) on failure."""
    with open(path, "rb") as fh:
        return fh.read(1 << 20).decode("utf-8", "surrogateescape")


def _read_json(path: str) -> object:
    # Bytes that are not UTF-8 are kept (surrogateescape) instead of failing the whole file.
    with open(path, "rb") as fh:
        return json.loads(fh.read(16 << 20).decode("utf-8", "surrogateescape"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, (ValueError, UnicodeDecodeError)):
        return "corrupt JSON"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def read_device_meta(path: str, hash_: str) -> tuple[DeviceMeta | None, str | None]:
    """Parse one metadata file; return (meta, problem text)."""
    try:
        data = _read_json(path)
    except (OSError, ValueError) as exc:
        return None, _describe(exc)
    if not isinstance(data, dict):
        return None, "not a JSON object"
    device_id = data.get("device_id")
    size = data.get("size")
    problem = None
    if not isinstance(device_id, int) or isinstance(device_id, bool) or device_id < 0:
        device_id, problem = None, "no valid device_id"
    elif device_id > MAX_DEVICE_ID:
        problem = f"device_id {device_id} is over 0xffffff (Docker ignores this file)"
        device_id = None
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        size = None
        problem = problem or "no valid size"
    if device_id is None:
        size = None
    tid = data.get("transaction_id")
    meta = DeviceMeta(
        hash=hash_,
        device_id=device_id,
        size=size,
        transaction_id=tid if isinstance(tid, int) and not isinstance(tid, bool) else None,
        initialized=data.get("initialized") is True,
        deleted=data.get("deleted") is True,
    )
    return meta, problem


def state_string(state: dict) -> str:
    """Docker's State.StateString() (container/state.go)."""
    if state.get("Running"):
        if state.get("Paused"):
            return "paused"
        if state.get("Restarting"):
            return "restarting"
        return "running"
    if state.get("RemovalInProgress"):
        return "removing"
    if state.get("Dead"):
        return "dead"
    started = state.get("StartedAt")
    if not started or started == ZERO_TIME:
        return "created"
    return "exited"


def pid_alive(pid: int, proc: str = "/proc") -> bool:
    return pid > 0 and os.path.isdir(f"{proc}/{pid}")


class DockerStateReader:
    def __init__(self, root: str, proc: str = "/proc") -> None:
        self.root = root
        self.proc = proc

    def read(self) -> DockerState:
        st = DockerState(root=self.root)
        self._read_metadata(st)
        self._read_layers(st)
        self._read_containers(st)
        self._check_orphans(st)
        return st

    def read_container_state(self, container_id: str) -> Container:
        """One container's config, read again (cheap: two small files)."""
        return self._read_container(DockerState(root=self.root), container_id)

    # -- devicemapper/metadata -------------------------------------------------------------

    def _read_metadata(self, st: DockerState) -> None:
        mdir = st.metadata_dir
        try:
            names = sorted(os.listdir(mdir))
        except FileNotFoundError:
            st.problems.append(
                Problem.error(f"{mdir} is missing: this is not a devicemapper docker root")
            )
            return
        except OSError as exc:
            st.problems.append(Problem.error(f"cannot read {mdir}: {_describe(exc)}"))
            return
        for name in names:
            # Docker's loader skips temp files and migrated leftovers the same way.
            if name.startswith(".") or name.endswith(".migrated") or name in SET_WIDE_FILES:
                continue
            path = os.path.join(mdir, name)
            meta, problem = read_device_meta(path, name)
            if problem:
                st.problems.append(Problem.warning(f"device {short(name)}: {path}: {problem}"))
            if meta is not None:
                st.devices[name] = meta
        self._read_transaction(st, os.path.join(mdir, "transaction-metadata"))
        try:
            data = _read_json(os.path.join(mdir, "deviceset-metadata"))
            if isinstance(data, dict) and isinstance(data.get("BaseDeviceFilesystem"), str):
                st.base_filesystem = data["BaseDeviceFilesystem"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            st.problems.append(
                Problem.warning(f"{os.path.join(mdir, 'deviceset-metadata')}: {_describe(exc)}")
            )

    def _read_transaction(self, st: DockerState, path: str) -> None:
        try:
            data = _read_json(path)
        except FileNotFoundError:
            return  # legitimately absent after a rollback
        except (OSError, ValueError) as exc:
            st.problems.append(Problem.warning(f"{path}: {_describe(exc)}"))
            return
        if (
            isinstance(data, dict)
            and isinstance(data.get("open_transaction_id"), int)
            and isinstance(data.get("device_id"), int)
        ):
            st.transaction = TransactionMeta(
                data["open_transaction_id"], str(data.get("device_hash", "")), data["device_id"]
            )
        else:
            st.problems.append(Problem.warning(f"{path}: unexpected content"))

    # -- image/devicemapper/layerdb --------------------------------------------------------

    @property
    def layerdb(self) -> str:
        return os.path.join(self.root, "image", "devicemapper", "layerdb")

    def _read_layers(self, st: DockerState) -> None:
        sha_dir = os.path.join(self.layerdb, "sha256")
        try:
            chains = os.listdir(sha_dir)
        except OSError:
            return
        for chain in chains:
            try:
                st.layer_cache_ids.add(_read_text(os.path.join(sha_dir, chain, "cache-id")).strip())
            except OSError:
                continue

    # -- containers/ -----------------------------------------------------------------------

    def _read_containers(self, st: DockerState) -> None:
        cdir = os.path.join(self.root, "containers")
        try:
            ids = sorted(os.listdir(cdir))
        except FileNotFoundError:
            ids = []
        except OSError as exc:
            st.problems.append(Problem.error(f"cannot read {cdir}: {_describe(exc)}"))
            ids = []
        for cid in ids:
            if not os.path.isdir(os.path.join(cdir, cid)):
                continue
            st.containers.append(self._read_container(st, cid))
        mounts_dir = os.path.join(self.layerdb, "mounts")
        known = set(ids)
        try:
            for mid_dir in sorted(os.listdir(mounts_dir)):
                if mid_dir not in known:
                    st.problems.append(
                        Problem.warning(
                            f"layer store mount {short(mid_dir)} has no container directory "
                            f"({os.path.join(mounts_dir, mid_dir)}); a build or removed container"
                        )
                    )
        except OSError:
            pass

    def _read_container(self, st: DockerState, cid: str) -> Container:
        c = Container(id=cid, name=None, image=None, state=None)
        cfg_path = os.path.join(self.root, "containers", cid, "config.v2.json")
        try:
            cfg = _read_json(cfg_path)
            if not isinstance(cfg, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as exc:
            st.problems.append(
                Problem.error(f"container {c.short_id}: {cfg_path}: {_describe(exc)}")
            )
            cfg = None
        if cfg is not None:
            self._apply_config(st, c, cfg, cfg_path)
        self._apply_hostconfig(st, c)
        self._resolve_device(st, c)
        return c

    def _apply_config(self, st: DockerState, c: Container, cfg: dict, path: str) -> None:
        name = cfg.get("Name")
        c.name = (
            name[1:]
            if isinstance(name, str) and name.startswith("/")
            else (name if isinstance(name, str) else None)
        )
        config = cfg.get("Config")
        if isinstance(config, dict) and isinstance(config.get("Image"), str):
            c.image = config["Image"]
        c.driver = cfg.get("Driver") if isinstance(cfg.get("Driver"), str) else None
        state = cfg.get("State")
        if not isinstance(state, dict):
            st.problems.append(Problem.error(f"container {c.short_id}: {path}: no State"))
            return
        c.state = state_string(state)
        c.running = state.get("Running") is True
        c.paused = state.get("Paused") is True
        c.restarting = state.get("Restarting") is True
        pid = state.get("Pid")
        c.pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else 0
        code = state.get("ExitCode")
        c.exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
        finished = state.get("FinishedAt")
        c.finished_at = finished if isinstance(finished, str) and finished != ZERO_TIME else None
        if c.running and not pid_alive(c.pid, self.proc):
            c.stale = True
            st.problems.append(
                Problem.warning(
                    f"container {c.short_id} ({c.name}): state Running is stale, pid {c.pid} "
                    f"is gone ({path}); Docker corrects it at its next start"
                )
            )
        if c.driver and c.driver != "devicemapper":
            st.problems.append(
                Problem.warning(f"container {c.short_id}: driver is {c.driver}, not devicemapper")
            )

    def _apply_hostconfig(self, st: DockerState, c: Container) -> None:
        path = os.path.join(self.root, "containers", c.id, "hostconfig.json")
        try:
            hc = _read_json(path)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            st.problems.append(Problem.warning(f"container {c.short_id}: {path}: {_describe(exc)}"))
            return
        policy = hc.get("RestartPolicy") if isinstance(hc, dict) else None
        if isinstance(policy, dict) and isinstance(policy.get("Name"), str):
            c.restart_policy = policy["Name"] or "no"

    def _resolve_device(self, st: DockerState, c: Container) -> None:
        mid_path = os.path.join(self.layerdb, "mounts", c.id, "mount-id")
        try:
            mid = _read_text(mid_path).strip()
            c.mount_id, c.mount_id_source = mid, "layerdb"
        except FileNotFoundError:
            # Containers migrated by Docker 1.10 use their own id as the mount-id.
            if c.id in st.devices or os.path.exists(os.path.join(st.metadata_dir, c.id)):
                c.mount_id, c.mount_id_source = c.id, "container id (migrated)"
            else:
                st.problems.append(
                    Problem.error(f"container {c.short_id}: {mid_path}: missing mount-id")
                )
                return
        except OSError as exc:
            st.problems.append(
                Problem.error(f"container {c.short_id}: {mid_path}: {_describe(exc)}")
            )
            return
        if not c.mount_id:
            st.problems.append(Problem.error(f"container {c.short_id}: {mid_path}: empty"))
            c.mount_id = None
            return
        meta = st.devices.get(c.mount_id)
        if meta is None:
            path = os.path.join(st.metadata_dir, c.mount_id)
            if not os.path.lexists(path):
                st.problems.append(
                    Problem.error(
                        f"container {c.short_id}: mount-id {short(c.mount_id)} has no "
                        f"metadata file {path}"
                    )
                )
            return
        c.device = meta
        if meta.device_id is not None and meta.deleted:
            st.problems.append(
                Problem.warning(
                    f"container {c.short_id}: device {short(c.mount_id)} is marked deleted "
                    f"in {os.path.join(st.metadata_dir, c.mount_id)}"
                )
            )

    def _check_orphans(self, st: DockerState) -> None:
        used = st.container_mount_ids()
        for hash_, meta in st.devices.items():
            if meta.deleted and hash_ not in used:
                st.problems.append(
                    Problem.warning(
                        f"device {short(hash_)} is marked deleted (deferred deletion pending; "
                        f"dockerd retries every 30 s)"
                    )
                )
                continue
            if hash_ == "base" or hash_ in used or hash_ in st.layer_cache_ids:
                continue
            if hash_.endswith("-init") and hash_[: -len("-init")] in used:
                continue
            st.problems.append(
                Problem.warning(
                    f"orphan metadata {os.path.join(st.metadata_dir, hash_)}: "
                    f"no container or image layer uses device {short(hash_)}"
                )
            )
