"""The safety checks before a mount, each naming the hazard it guards against.

Pure decisions over one HostStatus read (plus pid and holder look-ups): the mount dialog
shows every Check, `dmtui mount` refuses on the first that blocks. Hazards H1-H8 are those
of docker-devicemapper.md §4.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dmtui.core.dockerstate import Container, DeviceMeta
from dmtui.core.holders import comm_of, processes_on_device
from dmtui.core.journal import MountRecord
from dmtui.core.status import DeviceView, HostStatus
from dmtui.core.system import System
from dmtui.core.text import printable

RUNNING_STATES = ("running", "paused", "restarting")


@dataclass(frozen=True, slots=True)
class Check:
    """One safety check as the mount dialog shows it."""

    name: str
    ok: bool
    message: str
    blocks: str | None = None  # "all", "rw", or None for a warning
    hazard: str | None = None

    @property
    def refuses_rw(self) -> bool:
        return not self.ok and self.blocks in ("all", "rw")

    @property
    def refuses_all(self) -> bool:
        return not self.ok and self.blocks == "all"


@dataclass
class MountPlan:
    container: Container
    device_name: str
    device_id: int
    size_bytes: int
    pool_name: str
    mountpoint: str
    filesystem_hint: str | None
    read_write: bool
    checks: list[Check]
    reuse_device: bool = False
    record: MountRecord | None = None
    already_mounted: bool = False

    @property
    def table(self) -> str:
        return f"0 {self.size_bytes // 512} thin /dev/mapper/{self.pool_name} {self.device_id}"

    @property
    def rw_allowed(self) -> bool:
        return not any(c.refuses_rw for c in self.checks)

    @property
    def refusal(self) -> Check | None:
        for check in self.checks:
            if check.refuses_all or (self.read_write and check.refuses_rw):
                return check
        return None

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.blocks is None]


def check_state(system: System, status: HostStatus, c: Container) -> Check:
    name = "container stopped"
    if c.state is None:
        return Check(name, False, "cannot read the container's state", "all", "H2")
    if c.state in RUNNING_STATES or c.restarting:
        if c.stale and status.config.dockerd is None and not c.restarting:
            return Check(
                name,
                False,
                f"state says {c.state} but pid {c.pid} is gone and dockerd is not running",
                None,
                "H2",
            )
        return Check(
            name,
            False,
            f"the container is {c.state}: stop it first (docker stop {printable(c.name)})",
            "all",
            "H2",
        )
    if c.pid > 0 and system.pid_alive(c.pid):
        return Check(name, False, f"its pid {c.pid} is still alive", "all", "H2")
    return Check(name, True, f"{c.state}")


def check_device(status: HostStatus, c: Container) -> tuple[Check, DeviceMeta | None]:
    name = "container device"
    meta = c.device
    if c.mount_id is None:
        return Check(name, False, "no mount-id in the layer store", "all", "H8"), None
    mid = c.mount_id
    if mid == "base" or mid.endswith("-init") or mid in status.docker.layer_cache_ids:
        return (
            Check(name, False, f"{mid[:12]} is not a container's RW device", "all", "H8"),
            None,
        )
    if meta is None or meta.device_id is None or meta.size is None:
        return (
            Check(name, False, f"no valid devicemapper metadata for {mid[:12]}", "all"),
            None,
        )
    if meta.deleted:
        return (
            Check(
                name,
                False,
                f"device {mid[:12]} is marked deleted: Docker is removing it",
                "all",
                "H6",
            ),
            None,
        )
    return Check(name, True, f"thin id {meta.device_id}, {meta.size} bytes"), meta


def check_kernel(system: System, status: HostStatus, plan: MountPlan, dry_run: bool) -> list[Check]:
    if dry_run and status.dm_unavailable:
        # Not visible in the files: a dry-run on a machine without device-mapper says so
        # and does not refuse for it.
        return [Check("device-mapper", True, f"not checked: {status.dm_unavailable}")]
    if status.dm_unavailable:
        return [Check("device-mapper", False, status.dm_unavailable, "all")]
    checks: list[Check] = []
    pool = status.pool
    if pool is None:
        return [
            Check(
                "thin pool",
                False,
                f"pool {plan.pool_name} is not active: start dockerd, or pass --pool",
                "all",
            )
        ]
    if pool.status.mode in ("fail", "error"):
        checks.append(Check("thin pool", False, f"pool is in {pool.status.mode} mode", "all", "H5"))
    else:
        refusal = pool.writable_refusal()
        checks.append(
            Check("thin pool", refusal is None, refusal or "rw", "rw" if refusal else None)
        )
    checks.append(check_mappings(system, status, plan))
    return checks


def check_mappings(system: System, status: HostStatus, plan: MountPlan) -> Check:
    name = "no other mapping"
    mapped = status.mappings_of(plan.device_id)
    others = [d for d in mapped if d.name != plan.device_name]
    if others:
        return Check(
            name,
            False,
            f"thin id {plan.device_id} is already mapped as {printable(others[0].name)}: "
            f"two mappings of one thin device corrupt its filesystem",
            "all",
            "H1",
        )
    own = status.device_by_name(plan.device_name)
    if own is None:
        return Check(name, True, f"thin id {plan.device_id} is not mapped")
    if not is_docker_table(status, own, plan):
        return Check(
            name,
            False,
            f"{plan.device_name[:40]}… exists with a table that is not Docker's",
            "all",
            "H1",
        )
    ours = plan.record is not None and plan.record.created_device is not False
    if own.deferred_remove:
        return Check(
            name,
            False,
            f"Docker's device is pending a deferred removal: {holders_text(system, status, own)}",
            "all",
            "H6",
        )
    foreign_mounts = [m for m in own.mounts if m.mount_point != plan.mountpoint]
    if foreign_mounts:
        return Check(
            name,
            False,
            f"the device is already mounted: {holders_text(system, status, own)}",
            "all",
            "H3",
        )
    if not ours and (own.open_count or 0) > 0:
        return Check(
            name,
            False,
            f"the device is open (count {own.open_count}): {holders_text(system, status, own)}",
            "all",
            "H3",
        )
    if not ours:
        plan.reuse_device = True
        return Check(
            name,
            True,
            "Docker's device is already active and unused: dmtui reuses it and leaves it "
            "active afterwards",
        )
    return Check(name, True, "dmtui's own device from an earlier step")


def is_docker_table(status: HostStatus, dev: DeviceView, plan: MountPlan) -> bool:
    if dev.target != "thin" or dev.thin_device_id != plan.device_id:
        return False
    if dev.size_bytes != plan.size_bytes // 512 * 512:
        return False
    pool = status.pool
    return pool is not None and dev.thin_pool_dev in (pool.dev, f"/dev/mapper/{pool.name}")


def check_mountpoint(status: HostStatus, plan: MountPlan) -> Check:
    name = "mount point"
    mp = plan.mountpoint
    docker_mnt = os.path.join(status.docker_root, "devicemapper", "mnt")
    if mp == docker_mnt or mp.startswith(docker_mnt + "/"):
        return Check(
            name,
            False,
            f"{mp} is under {docker_mnt}, which dockerd's shutdown lazily unmounts",
            "all",
            "H3",
        )
    mounted_here = any(m.mount_point == mp for d in status.devices for m in d.mounts)
    if plan.record is not None:
        plan.already_mounted = plan.record.state == "mounted" and mounted_here
        return Check(name, True, f"{mp} (dmtui's)")
    if os.path.ismount(mp):
        return Check(name, False, f"{mp} is already a mount point", "all")
    if os.path.isdir(mp) and os.listdir(mp):
        return Check(name, False, f"{mp} is not empty", "all")
    if os.path.exists(mp) and not os.path.isdir(mp):
        return Check(name, False, f"{mp} exists and is not a directory", "all")
    return Check(name, True, mp)


def holders_text(system: System, status: HostStatus, dev: DeviceView) -> str:
    """Who holds a device: its mounts in every namespace, and sysfs holders."""
    parts = []
    for m in dev.mounts:
        where = status.namespace_label(m)
        if m.namespace not in (status.dockerd_namespace, status.own_namespace):
            where += f" ({comm_of(m.pid)})"
        parts.append(f"mounted at {printable(m.mount_point)} in {where}")
    holders = system.holders(dev.kernel_name)
    if holders:
        parts.append("held by " + ", ".join(holders))
    if not dev.mounts:
        users = processes_on_device(dev.major, dev.minor)
        parts.extend(
            f"open by {u.describe(status.own_namespace)} (a lazily detached mount)" for u in users
        )
    if not parts:
        parts.append(f"open count {dev.open_count}, no mount found")
    return "; ".join(parts)
