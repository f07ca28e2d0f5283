"""Write a Docker root in the devicemapper driver's exact on-disk format.

Used by `dmtui demo` (simulated host) and by the test lab, which pairs it with real
thin-pool operations in a VM. It keeps the invariants of reference §1.7: device ids and
transaction ids increase in creation order, every create consumes one pool transaction,
init devices come before RW devices, snapshots inherit their parent's size, metadata files
are compact JSON without a trailing newline, container files are compact with one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

GIB = 1 << 30
ZERO_TIME = "0001-01-01T00:00:00Z"

# on_create(hash, device_id, origin_device_id or None, size, new_transaction_id)
CreateHook = Callable[[str, int, "int | None", int, int], None]


def fake_id(seed: str) -> str:
    """A deterministic 64-hex id (Docker's are random; tests want repeatable ones)."""
    return hashlib.sha256(seed.encode()).hexdigest()


@dataclass
class Layer:
    chain_id: str
    cache_id: str
    device_id: int


@dataclass
class ContainerRecord:
    id: str
    name: str
    mount_id: str
    device_id: int
    init_device_id: int
    size: int


class DockerLayout:
    def __init__(self, root: str, on_create: CreateHook | None = None) -> None:
        self.root = root
        self.on_create = on_create
        self.next_device_id = 1
        self.transaction_id = 0
        self.sizes: dict[int, int] = {}
        self.base_size = 10 * GIB

    # -- paths -----------------------------------------------------------------------------

    @property
    def dm_home(self) -> str:
        return os.path.join(self.root, "devicemapper")

    @property
    def metadata_dir(self) -> str:
        return os.path.join(self.dm_home, "metadata")

    @property
    def layerdb(self) -> str:
        return os.path.join(self.root, "image", "devicemapper", "layerdb")

    # -- writers ---------------------------------------------------------------------------

    @staticmethod
    def _write(path: str, text: str, mode: int = 0o600) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)

    @staticmethod
    def _compact(obj: object) -> str:
        return json.dumps(obj, separators=(",", ":"))

    def _register(self, hash_: str, size: int, origin: int | None, initialized: bool) -> int:
        device_id = self.next_device_id
        self.next_device_id += 1
        self.transaction_id += 1
        if self.on_create:
            self.on_create(hash_, device_id, origin, size, self.transaction_id)
        self.sizes[device_id] = size
        name = hash_ or "base"
        self._write(
            os.path.join(self.metadata_dir, name),
            self._compact(
                {
                    "device_id": device_id,
                    "size": size,
                    "transaction_id": self.transaction_id,
                    "initialized": initialized,
                    "deleted": False,
                }
            ),
        )
        self._write(
            os.path.join(self.metadata_dir, "transaction-metadata"),
            self._compact(
                {
                    "open_transaction_id": self.transaction_id,
                    "device_hash": hash_,
                    "device_id": device_id,
                }
            ),
        )
        return device_id

    def init_driver(self, filesystem: str = "xfs", base_size: int = 10 * GIB) -> int:
        """The driver home, the loop files' directory and the base device."""
        self.base_size = base_size
        for d in (self.dm_home, os.path.join(self.dm_home, "devicemapper"), self.metadata_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o700)
        os.makedirs(os.path.join(self.dm_home, "mnt"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "containers"), exist_ok=True)
        os.makedirs(os.path.join(self.layerdb, "mounts"), exist_ok=True)
        os.makedirs(os.path.join(self.layerdb, "sha256"), exist_ok=True)
        base_id = self._register("", base_size, None, initialized=True)
        self._write(
            os.path.join(self.metadata_dir, "deviceset-metadata"),
            self._compact(
                {
                    "next_device_id": self.next_device_id,
                    "BaseDeviceUUID": "4c2a5d4e-8f0e-4b8f-9a55-2b1f0a7c9d11",
                    "BaseDeviceFilesystem": filesystem,
                }
            ),
        )
        return base_id

    def add_image_layer(self, seed: str, parent: Layer | None = None) -> Layer:
        cache_id = fake_id("cache:" + seed)
        diff_id = "sha256:" + fake_id("diff:" + seed)
        if parent is None:
            chain_id = diff_id[len("sha256:") :]
        else:
            chain_id = hashlib.sha256(f"sha256:{parent.chain_id} {diff_id}".encode()).hexdigest()
        origin = parent.device_id if parent else 1
        device_id = self._register(cache_id, self.sizes[origin], origin, initialized=False)
        ldir = os.path.join(self.layerdb, "sha256", chain_id)
        self._write(os.path.join(ldir, "cache-id"), cache_id, 0o644)
        self._write(os.path.join(ldir, "diff"), diff_id, 0o644)
        self._write(os.path.join(ldir, "size"), "0", 0o644)
        if parent:
            self._write(os.path.join(ldir, "parent"), "sha256:" + parent.chain_id, 0o644)
        return Layer(chain_id, cache_id, device_id)

    def add_container(
        self,
        name: str,
        image: str,
        top: Layer,
        *,
        state: str = "exited",
        exit_code: int = 0,
        pid: int = 0,
        restart_policy: str = "no",
        size: int | None = None,
        migrated: bool = False,
        error: str = "",
    ) -> ContainerRecord:
        cid = fake_id("container:" + name)
        mount_id = cid if migrated else fake_id("mount:" + name)
        size = size or self.sizes[top.device_id]
        init_id = self._register(mount_id + "-init", size, top.device_id, initialized=False)
        rw_id = self._register(mount_id, size, init_id, initialized=False)
        if not migrated:
            mdir = os.path.join(self.layerdb, "mounts", cid)
            self._write(os.path.join(mdir, "mount-id"), mount_id, 0o644)
            self._write(os.path.join(mdir, "init-id"), mount_id + "-init", 0o644)
            self._write(os.path.join(mdir, "parent"), "sha256:" + top.chain_id, 0o644)
        self.write_container_config(cid, name, image, state, exit_code, pid, restart_policy, error)
        return ContainerRecord(cid, name, mount_id, rw_id, init_id, size)

    def write_container_config(
        self,
        cid: str,
        name: str,
        image: str,
        state: str,
        exit_code: int = 0,
        pid: int = 0,
        restart_policy: str = "no",
        error: str = "",
    ) -> None:
        started = "2026-11-20T08:00:00.123456789Z" if state != "created" else ZERO_TIME
        finished = "2026-11-27T03:14:15.926535897Z" if state == "exited" else ZERO_TIME
        cfg = {
            "StreamConfig": {},
            "State": {
                "Running": state in ("running", "paused", "restarting"),
                "Paused": state == "paused",
                "Restarting": state == "restarting",
                "OOMKilled": False,
                "RemovalInProgress": False,
                "Dead": state == "dead",
                "Pid": pid,
                "ExitCode": exit_code,
                "Error": error,
                "StartedAt": started,
                "FinishedAt": finished,
                "Health": None,
            },
            "ID": cid,
            "Created": "2026-11-20T07:59:58.000000001Z",
            "Managed": False,
            "Path": "/entrypoint.sh",
            "Args": [],
            "Config": {"Hostname": cid[:12], "Image": image, "Labels": {}},
            "Image": "sha256:" + fake_id("image:" + image),
            "LogPath": os.path.join(self.root, "containers", cid, cid + "-json.log"),
            "Name": "/" + name,
            "Driver": "devicemapper",
            "OS": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "RestartCount": 0,
            "HasBeenStartedBefore": state != "created",
            "HasBeenManuallyStopped": False,
            "MountPoints": {},
        }
        host = {
            "Binds": None,
            "LogConfig": {"Type": "json-file", "Config": {}},
            "RestartPolicy": {"Name": restart_policy, "MaximumRetryCount": 0},
            "AutoRemove": False,
            "Privileged": False,
            "ReadonlyRootfs": False,
        }
        cdir = os.path.join(self.root, "containers", cid)
        os.makedirs(cdir, exist_ok=True)
        os.chmod(cdir, 0o710)
        self._write(os.path.join(cdir, "config.v2.json"), self._compact(cfg) + "\n", 0o600)
        self._write(os.path.join(cdir, "hostconfig.json"), self._compact(host) + "\n", 0o644)

    def mark_deleted(self, hash_: str) -> None:
        path = os.path.join(self.metadata_dir, hash_)
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        data["deleted"] = True
        self._write(path, self._compact(data))
