"""One read of the whole host: config, Docker's state, the pool, dm devices and mounts.

`read_host_status` is what `dmtui status` prints and what the TUI panes show; the mount
lifecycle re-reads it just before acting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dmtui.core import dmparse
from dmtui.core.dockerconfig import DockerConfig, SystemPaths, detect_config, device_prefix_for
from dmtui.core.dockerstate import Container, DockerState, DockerStateReader
from dmtui.core.mountinfo import MountEntry
from dmtui.core.pool import PoolInfo
from dmtui.core.problems import Problem
from dmtui.core.system import BlockDevice, System


@dataclass(slots=True)
class DeviceView:
    """A dm device with everything an operator asks about it."""

    name: str
    kernel_name: str
    major: int
    minor: int
    size_bytes: int
    target: str | None
    open_count: int | None
    deferred_remove: bool
    thin_pool_dev: str | None = None  # for thin targets: the pool's maj:min
    thin_device_id: int | None = None
    mounts: list[MountEntry] = field(default_factory=list)

    @property
    def dev(self) -> str:
        return f"{self.major}:{self.minor}"


@dataclass(slots=True)
class HostStatus:
    config: DockerConfig
    device_prefix: str | None
    pool_name: str
    docker: DockerState
    pool: PoolInfo | None
    devices: list[DeviceView]
    dm_unavailable: str | None
    own_namespace: str | None
    dockerd_namespace: str | None
    problems: list[Problem]

    @property
    def docker_root(self) -> str:
        return self.config.docker_root

    def namespace_label(self, mount: MountEntry, short: bool = False) -> str:
        """Whose mount namespace a mount lives in: dockerd's, ours, or another process's."""
        if mount.namespace == self.dockerd_namespace:
            return "dockerd ns" if short else "dockerd's mount namespace"
        if mount.namespace == self.own_namespace:
            return "this ns" if short else "this mount namespace"
        if short:
            return f"ns of pid {mount.pid}"
        return f"mount namespace {mount.namespace} of pid {mount.pid}"

    def device_name_for(self, hash_: str) -> str | None:
        return f"{self.device_prefix}-{hash_}" if self.device_prefix else None

    def device_by_name(self, name: str) -> DeviceView | None:
        return next((d for d in self.devices if d.name == name), None)

    def mappings_of(self, device_id: int) -> list[DeviceView]:
        """Every active dm device mapping this thin id of our pool, under any name (H1)."""
        if self.pool is None or self.pool.dev is None:
            return []
        pool_refs = {self.pool.dev, f"/dev/mapper/{self.pool.name}"}
        return [
            d
            for d in self.devices
            if d.target == "thin" and d.thin_device_id == device_id and d.thin_pool_dev in pool_refs
        ]

    def container_device(self, c: Container) -> DeviceView | None:
        if not c.mount_id:
            return None
        name = self.device_name_for(c.mount_id)
        return self.device_by_name(name) if name else None


def _gather_devices(
    system: System,
    blocks: list[BlockDevice],
    tables: dict[str, list[dmparse.TargetLine]],
    infos: dict[str, dmparse.DmInfo],
    mounts: list[MountEntry],
) -> list[DeviceView]:
    by_dev: dict[tuple[int, int], list[MountEntry]] = {}
    for m in mounts:
        by_dev.setdefault((m.major, m.minor), []).append(m)
    views: list[DeviceView] = []
    for b in blocks:
        lines = tables.get(b.name) or []
        target = lines[0].target if lines else None
        info = infos.get(b.name)
        view = DeviceView(
            name=b.name,
            kernel_name=b.kernel_name,
            major=b.major,
            minor=b.minor,
            size_bytes=b.size_bytes,
            target=target,
            open_count=info.open_count if info else None,
            deferred_remove=info.deferred_remove if info else False,
            mounts=by_dev.get((b.major, b.minor), []),
        )
        if target == "thin" and len(lines) == 1:
            try:
                thin = dmparse.parse_thin_table(lines[0])
                view.thin_pool_dev, view.thin_device_id = thin.pool_dev, thin.device_id
            except dmparse.ParseError:
                pass
        views.append(view)
    return views


def read_pool(
    system: System,
    name: str,
    min_free_percent: int,
    blocks: list[BlockDevice] | None = None,
    tables: dict[str, list[dmparse.TargetLine]] | None = None,
) -> tuple[PoolInfo | None, Problem | None]:
    """Read the pool's table and status: one or two cheap dmsetup calls."""
    table_lines = tables.get(name) if tables is not None else system.dm_table(name)
    if not table_lines:
        return None, Problem.error(
            f"thin pool {name} is not active; start dockerd (loop-lvm pools exist only while it "
            f"runs) or name the pool with --pool"
        )
    try:
        table = dmparse.parse_thin_pool_table(table_lines[0])
        status_lines = system.dm_status(name) or []
        if not status_lines:
            raise dmparse.ParseError("no status")
        status = dmparse.parse_thin_pool_status(status_lines[0].params)
    except dmparse.ParseError as exc:
        return None, Problem.error(f"device {name} is not a readable thin pool: {exc}")
    major = minor = None
    for b in blocks if blocks is not None else system.block_devices():
        if b.name == name:
            major, minor = b.major, b.minor
    return PoolInfo(name, major, minor, table, status, min_free_percent), None


def pool_problems(pool: PoolInfo, docker: DockerState) -> list[Problem]:
    problems: list[Problem] = []
    s = pool.status
    if s.mode == "fail":
        problems.append(Problem.error(f"pool {pool.name} is in fail mode: no IO is possible"))
    elif s.mode == "error":
        problems.append(Problem.error(f"pool {pool.name} reports Error; see dmesg"))
    elif s.mode != "rw":
        problems.append(
            Problem.error(
                f"pool {pool.name} is {s.mode}: no read-write mount; free or extend the pool"
            )
        )
    if s.needs_check:
        problems.append(
            Problem.error(
                f"pool {pool.name} needs_check: stop dockerd and repair the metadata "
                f"(thin_check/thin_repair, LVM: lvconvert --repair)"
            )
        )
    refusal = pool.docker_refusal()
    if refusal:
        problems.append(
            Problem.warning(
                f"{refusal}: below dm.min_free_space ({pool.min_free_percent}%), Docker refuses "
                f"new containers and pulls; delete files and trim, or extend the pool"
            )
        )
    tx = docker.transaction
    if tx and s.transaction_id is not None and s.transaction_id < tx.open_transaction_id:
        problems.append(
            Problem.error(
                f"pool transaction id {s.transaction_id} is behind transaction-metadata "
                f"{tx.open_transaction_id}: at its next start Docker rolls back and deletes "
                f"thin device {tx.device_id} ({tx.device_hash[:12] or 'base'})"
            )
        )
    return problems


def read_host_status(
    system: System,
    docker_root: str | None = None,
    pool_name: str | None = None,
    paths: SystemPaths | None = None,
    config: DockerConfig | None = None,
) -> HostStatus:
    paths = paths or system.paths
    config = config or detect_config(docker_root, pool_name, paths)
    problems: list[Problem] = [Problem.warning(w) for w in config.warnings]
    dm_home = os.path.join(config.docker_root, "devicemapper")
    prefix: str | None = None
    try:
        prefix = device_prefix_for(dm_home)
    except OSError as exc:
        problems.append(
            Problem.error(
                f"cannot stat {dm_home} ({exc.strerror}): not a devicemapper docker root; "
                f"pass --docker-root"
            )
        )
    name = config.pool_name or (f"{prefix}-pool" if prefix else "unknown-pool")
    docker = DockerStateReader(config.docker_root, paths.proc).read()
    # The missing-metadata problem says the same as the stat problem above.
    if prefix is None:
        docker.problems = [p for p in docker.problems if "is missing: this is not" not in p.message]
    problems.extend(docker.problems)

    pool: PoolInfo | None = None
    devices: list[DeviceView] = []
    reason = system.dm_unavailable_reason()
    own_ns = system.own_namespace()
    dockerd_ns = system.namespace_of(config.dockerd.pid) if config.dockerd else None
    if reason:
        problems.append(Problem.error(f"device-mapper not readable: {reason}"))
    else:
        blocks = system.block_devices()
        tables = system.dm_tables()
        infos = {i.name: i for i in system.dm_infos()}
        mounts = system.mounts()
        devices = _gather_devices(system, blocks, tables, infos, mounts)
        pool, problem = read_pool(system, name, config.min_free_percent, blocks, tables)
        if problem:
            problems.append(problem)
        if pool:
            problems.extend(pool_problems(pool, docker))
        for d in devices:
            if d.deferred_remove:
                problems.append(
                    Problem.warning(
                        f"device {d.name} has a deferred removal pending: something still "
                        f"holds it open (open count {d.open_count})"
                    )
                )
    problems.extend(journal_problems())
    return HostStatus(
        config=config,
        device_prefix=prefix,
        pool_name=name,
        docker=docker,
        pool=pool,
        devices=devices,
        dm_unavailable=reason,
        own_namespace=own_ns,
        dockerd_namespace=dockerd_ns,
        problems=problems,
    )


def journal_problems() -> list[Problem]:
    """What earlier dmtui runs left: interrupted steps, and mounts left in place."""
    from dmtui.core.journal import Journal, interrupted

    problems = []
    for record in Journal().records():
        label = record.label
        if interrupted(record):
            problems.append(
                Problem.error(
                    f"an earlier dmtui was interrupted while {record.state} {label}: run "
                    f"`dmtui umount {label}` to undo it or `dmtui mount {label}` to finish it"
                )
            )
        elif record.state == "mounted":
            problems.append(Problem.warning(f"dmtui has {label} mounted at {record.mountpoint}"))
    return problems


def container_json(status: HostStatus, c: Container) -> dict:
    dev = status.container_device(c)
    meta = c.device
    return {
        "id": c.id,
        "name": c.name,
        "image": c.image,
        "state": c.state,
        "exit_code": c.exit_code,
        "finished_at": c.finished_at,
        "restart_policy": c.restart_policy,
        "pid": c.pid,
        "stale": c.stale,
        "mount_id": c.mount_id,
        "device_id": meta.device_id if meta else None,
        "device_name": status.device_name_for(c.mount_id) if c.mount_id else None,
        "size_bytes": meta.size if meta else None,
        "deleted": bool(meta and meta.deleted),
        "active": dev is not None,
        "mounted_at": sorted({m.mount_point for m in dev.mounts}) if dev else [],
    }


def status_json(status: HostStatus) -> dict:
    containers = sorted(
        status.docker.containers, key=lambda c: (c.name is None, c.name or "", c.id)
    )
    return {
        "docker_root": status.docker_root,
        "device_prefix": status.device_prefix,
        "pool_name": status.pool_name,
        "pool": status.pool.to_json() if status.pool else None,
        "containers": [container_json(status, c) for c in containers],
        "devices": [
            {
                "name": d.name,
                "kernel_name": d.kernel_name,
                "major": d.major,
                "minor": d.minor,
                "target": d.target,
                "size_bytes": d.size_bytes,
                "open_count": d.open_count,
                "deferred_remove": d.deferred_remove,
                "mounts": [
                    {
                        "mount_point": m.mount_point,
                        "pid": m.pid,
                        "namespace": m.namespace,
                        "dockerd_namespace": m.namespace == status.dockerd_namespace,
                        "own_namespace": m.namespace == status.own_namespace,
                    }
                    for m in d.mounts
                ],
            }
            for d in status.devices
        ],
        "problems": [p.to_json() for p in status.problems],
        "dockerd_pid": status.config.dockerd.pid if status.config.dockerd else None,
    }
