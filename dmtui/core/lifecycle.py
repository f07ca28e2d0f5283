"""The guarded lifecycle: mount a stopped container's thin device, trim, unmount.

The seed procedure made safe (reference §2.9 and hazards H1-H11). dmtui only creates and
removes *mapped devices* under Docker's exact name and table; it never sends a pool message.
Each step is journaled before it runs, so an interrupted run can be finished (`mount` again)
or undone (`umount`). Used by the CLI and the TUI alike.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from dataclasses import dataclass, field

from dmtui.core.commands import Runner, state_dir
from dmtui.core.dockerstate import Container, DockerStateReader
from dmtui.core.errors import DmtuiError, Refused
from dmtui.core.holders import comm_of, processes_on_device, processes_using
from dmtui.core.journal import Journal, MountRecord, interrupted
from dmtui.core.status import DeviceView, HostStatus, read_host_status
from dmtui.core.system import System
from dmtui.core.text import printable

RUNNING_STATES = ("running", "paused", "restarting")
REMOVE_ATTEMPTS = 200  # Docker retries a busy removal 200 times every 100 ms
REMOVE_DELAY = 0.1
HEX = re.compile(r"^[0-9a-f]+$")


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


@dataclass
class MountOutcome:
    mountpoint: str
    rootfs: str
    device_name: str
    device_path: str
    filesystem: str
    read_write: bool
    created_device: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class TrimOutcome:
    mountpoint: str
    trimmed_bytes: int | None
    pool_used_before: int | None
    pool_used_after: int | None
    notes: list[str] = field(default_factory=list)


@dataclass
class UmountOutcome:
    mountpoint: str
    removed_device: bool
    notes: list[str] = field(default_factory=list)


def default_mountpoint(mount_id: str) -> str:
    # Outside <root>/devicemapper/mnt: dockerd's shutdown lazily unmounts everything there.
    return os.path.join(state_dir(), "mnt", mount_id)


def resolve_container(containers: list[Container], query: str, root: str) -> Container:
    """A name (with or without `/`), a full id, or a unique id prefix of 4+ characters."""
    q = query[1:] if query.startswith("/") else query
    matches = [c for c in containers if c.name is not None and c.name == q]
    if not matches:
        matches = [c for c in containers if c.id == q]
    if not matches and len(q) >= 4 and HEX.match(q):
        matches = [c for c in containers if c.id.startswith(q)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DmtuiError(
            f"{printable(query)!r} matches {len(matches)} containers",
            "give more characters of the id",
        )
    hint = " (an id prefix needs at least 4 characters)" if len(q) < 4 else ""
    raise DmtuiError(
        f"no container {printable(query)!r} in {printable(root)}{hint}",
        "see `dmtui status` for names and ids",
    )


class Lifecycle:
    def __init__(
        self,
        system: System,
        docker_root: str | None = None,
        pool: str | None = None,
        *,
        read_only: bool = False,
        runner: Runner | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.system = system
        self.docker_root = docker_root
        self.pool = pool
        self.read_only = read_only
        self.runner = runner or Runner(system)
        self.journal = journal or Journal()

    @property
    def dry_run(self) -> bool:
        return self.runner.dry_run

    def read_status(self) -> HostStatus:
        return read_host_status(self.system, self.docker_root, self.pool)

    def interrupted_records(self) -> list[MountRecord]:
        return [r for r in self.journal.records() if interrupted(r)]

    def resolve(self, status: HostStatus, query: str) -> Container:
        return resolve_container(status.docker.containers, query, status.docker_root)

    # -- planning --------------------------------------------------------------------------

    def plan_mount(
        self,
        query: str | Container,
        read_write: bool,
        at: str | None = None,
        status: HostStatus | None = None,
    ) -> MountPlan:
        status = status or self.read_status()
        c = query if isinstance(query, Container) else self.resolve(status, query)
        if status.device_prefix is None:
            raise DmtuiError(
                f"{printable(status.docker_root)} is not a devicemapper docker root",
                "pass --docker-root",
            )
        checks: list[Check] = []
        checks.append(self._check_state(status, c))
        device_check, meta = self._check_device(status, c)
        checks.append(device_check)
        if meta is None or c.mount_id is None:
            hazard = f" ({device_check.hazard})" if device_check.hazard else ""
            raise Refused(
                f"refusing to mount {c.name}: {device_check.message}{hazard}",
                "nothing to mount; `dmtui status` lists the problem",
            )
        name = f"{status.device_prefix}-{c.mount_id}"
        record = self.journal.load(c.mount_id)
        plan = MountPlan(
            container=c,
            device_name=name,
            device_id=meta.device_id,  # type: ignore[arg-type]
            size_bytes=meta.size,  # type: ignore[arg-type]
            pool_name=status.pool_name,
            mountpoint=at or (record.mountpoint if record else default_mountpoint(c.mount_id)),
            filesystem_hint=status.docker.base_filesystem,
            read_write=read_write,
            checks=checks,
            record=record,
        )
        if record and at and os.path.abspath(at) != record.mountpoint:
            raise Refused(
                f"{c.name} is already handled by dmtui at {record.mountpoint}",
                f"run `dmtui umount {c.name}` first",
            )
        plan.mountpoint = os.path.abspath(plan.mountpoint)
        checks.extend(self._check_kernel(status, plan))
        checks.append(self._check_mountpoint(status, plan))
        if self.read_only:
            checks.append(
                Check("read-only mode", False, "dmtui runs with --read-only", blocks="rw")
            )
        if c.restart_policy in ("always", "unless-stopped"):
            checks.append(
                Check(
                    "restart policy",
                    False,
                    f"restart policy {c.restart_policy}: Docker may start this container while "
                    f"it is mounted",
                    hazard="H2",
                )
            )
        if status.config.dockerd is not None:
            checks.append(
                Check(
                    "dockerd",
                    False,
                    f"dockerd is running (pid {status.config.dockerd.pid}): do not start this "
                    f"container until dmtui has unmounted it",
                    hazard="H2",
                )
            )
        return plan

    def _check_state(self, status: HostStatus, c: Container) -> Check:
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
        if c.pid > 0 and self.system.pid_alive(c.pid):
            return Check(name, False, f"its pid {c.pid} is still alive", "all", "H2")
        return Check(name, True, f"{c.state}")

    def _check_device(self, status: HostStatus, c: Container):
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

    def _check_kernel(self, status: HostStatus, plan: MountPlan) -> list[Check]:
        if self.dry_run and status.dm_unavailable:
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
            checks.append(
                Check("thin pool", False, f"pool is in {pool.status.mode} mode", "all", "H5")
            )
        else:
            refusal = pool.writable_refusal()
            checks.append(
                Check("thin pool", refusal is None, refusal or "rw", "rw" if refusal else None)
            )
        checks.append(self._check_mappings(status, plan))
        return checks

    def _check_mappings(self, status: HostStatus, plan: MountPlan) -> Check:
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
        if not self._is_docker_table(status, own, plan):
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
                f"Docker's device is pending a deferred removal: {self.holders_text(status, own)}",
                "all",
                "H6",
            )
        foreign_mounts = [m for m in own.mounts if m.mount_point != plan.mountpoint]
        if foreign_mounts:
            return Check(
                name,
                False,
                f"the device is already mounted: {self.holders_text(status, own)}",
                "all",
                "H3",
            )
        if not ours and (own.open_count or 0) > 0:
            return Check(
                name,
                False,
                f"the device is open (count {own.open_count}): {self.holders_text(status, own)}",
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

    def _is_docker_table(self, status: HostStatus, dev: DeviceView, plan: MountPlan) -> bool:
        if dev.target != "thin" or dev.thin_device_id != plan.device_id:
            return False
        if dev.size_bytes != plan.size_bytes // 512 * 512:
            return False
        pool = status.pool
        return pool is not None and dev.thin_pool_dev in (pool.dev, f"/dev/mapper/{pool.name}")

    def _check_mountpoint(self, status: HostStatus, plan: MountPlan) -> Check:
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

    def holders_text(self, status: HostStatus, dev: DeviceView) -> str:
        """Who holds a device: its mounts in every namespace, and sysfs holders."""
        parts = []
        for m in dev.mounts:
            where = status.namespace_label(m)
            if m.namespace not in (status.dockerd_namespace, status.own_namespace):
                where += f" ({comm_of(m.pid)})"
            parts.append(f"mounted at {printable(m.mount_point)} in {where}")
        holders = self.system.holders(dev.kernel_name)
        if holders:
            parts.append("held by " + ", ".join(holders))
        if not dev.mounts:
            users = processes_on_device(dev.major, dev.minor)
            parts.extend(
                f"open by {u.describe(status.own_namespace)} (a lazily detached mount)"
                for u in users
            )
        if not parts:
            parts.append(f"open count {dev.open_count}, no mount found")
        return "; ".join(parts)

    # -- mount -----------------------------------------------------------------------------

    def mount(self, plan: MountPlan) -> MountOutcome:
        refusal = plan.refusal
        if refusal is not None:
            hazard = f" ({refusal.hazard})" if refusal.hazard else ""
            raise Refused(f"refusing to mount {plan.container.name}: {refusal.message}{hazard}")
        if self.dry_run:
            return self._dry_mount(plan)
        if plan.already_mounted and plan.record is not None:
            if plan.read_write and not plan.record.read_write:
                raise Refused(
                    f"{plan.container.name} is already mounted read-only at "
                    f"{plan.record.mountpoint}",
                    f"run `dmtui umount {plan.container.name}` first",
                )
            return self._outcome(plan, plan.record, ["already mounted by dmtui"])
        record = plan.record or MountRecord(
            mount_id=plan.container.mount_id or "",
            container_id=plan.container.id,
            container_name=plan.container.name,
            device_name=plan.device_name,
            table=plan.table,
            mountpoint=plan.mountpoint,
            read_write=plan.read_write,
            state="activating",
            created_device=False if plan.reuse_device else None,
            created_mountpoint=False,
            pid=os.getpid(),
            updated=time.time(),
        )
        record.read_write = plan.read_write
        status = self._recheck(plan)
        self.journal.save(record)
        try:
            return self._mount_steps(plan, record, status)
        except DmtuiError:
            self._undo_after_failure(record)
            raise

    def _mount_steps(
        self, plan: MountPlan, record: MountRecord, status: HostStatus
    ) -> MountOutcome:
        notes: list[str] = []
        device = self._find_block(plan.device_name)
        if device is None:
            record.created_device = None
            record.state = "activating"
            self.journal.save(record)
            result = self.runner.run(
                ["dmsetup", "create", plan.device_name, "--table", self._kernel_table(plan)]
            )
            if result.returncode != 0:
                record.created_device = False
                raise DmtuiError(
                    f"dmsetup create failed: {_one_line(result.stderr)}",
                    "check `dmesg` (thin id missing from the pool?) and `dmtui status`",
                )
            self.runner.crash_point("activate")
            record.created_device = True
            record.state = "activated"
            self.journal.save(record)
            device = self._wait_block(plan.device_name)
        elif record.created_device is None:
            # Interrupted while activating: the device is ours if it is exactly our table and
            # nobody uses it (we checked it did not exist before we recorded the intent).
            record.created_device = True
            record.state = "activated"
            self.journal.save(record)
        elif plan.reuse_device:
            notes.append(f"reused Docker's active device {plan.device_name}")
        dev_path = f"/dev/{device.kernel_name}"
        fs = self.system.probe_filesystem(dev_path)
        if fs not in ("xfs", "ext4"):
            raise DmtuiError(
                f"no xfs or ext4 filesystem found on {dev_path} ({fs or 'unknown'})",
                "the device may be damaged; inspect it read-only with `blkid`",
            )
        options = ["rw" if plan.read_write else "ro", "nodev", "nosuid"]
        if fs == "xfs":
            options.append("nouuid")  # every Docker device shares the base fs UUID (H4)
        mp = plan.mountpoint
        if not os.path.isdir(mp):
            self.runner.step(f"mkdir -p {_q(mp)}", lambda: os.makedirs(mp, mode=0o700))
            record.created_mountpoint = True
        record.state = "mounting"
        self.journal.save(record)
        self._recheck_state(plan, status)
        if not self._mounted_at(mp, device.major, device.minor):
            result = self.runner.run(["mount", "-t", fs, "-o", ",".join(options), dev_path, mp])
            if result.returncode != 0:
                raise DmtuiError(
                    f"mount failed: {_one_line(result.stderr)}",
                    "see `dmesg | tail` for the filesystem's reason",
                )
            self.runner.crash_point("mount")
        record.state = "mounted"
        self.journal.save(record)
        return self._outcome(plan, record, notes, dev_path, fs)

    def _outcome(
        self,
        plan: MountPlan,
        record: MountRecord,
        notes: list[str],
        dev_path: str = "",
        fs: str = "",
    ) -> MountOutcome:
        return MountOutcome(
            mountpoint=record.mountpoint,
            rootfs=os.path.join(record.mountpoint, "rootfs"),
            device_name=record.device_name,
            device_path=dev_path,
            filesystem=fs or (plan.filesystem_hint or ""),
            read_write=record.read_write,
            created_device=bool(record.created_device),
            notes=notes + [c.message for c in plan.warnings],
        )

    def _dry_mount(self, plan: MountPlan) -> MountOutcome:
        fs = plan.filesystem_hint or "xfs"
        options = ["rw" if plan.read_write else "ro", "nodev", "nosuid"]
        if fs == "xfs":
            options.append("nouuid")
        dev_path = f"/dev/mapper/{plan.device_name}"
        if not plan.reuse_device:
            self.runner.run(["dmsetup", "create", plan.device_name, "--table", plan.table])
        if not os.path.isdir(plan.mountpoint):
            self.runner.step(f"mkdir -p {_q(plan.mountpoint)}", lambda: None)
        self.runner.run(["mount", "-t", fs, "-o", ",".join(options), dev_path, plan.mountpoint])
        return MountOutcome(
            plan.mountpoint,
            os.path.join(plan.mountpoint, "rootfs"),
            plan.device_name,
            dev_path,
            fs,
            plan.read_write,
            not plan.reuse_device,
            [c.message for c in plan.warnings],
        )

    def _kernel_table(self, plan: MountPlan) -> str:
        # Docker's table names the pool by /dev/mapper path; a host without the node (no
        # udevd, pool made elsewhere) gets the same kernel table through major:minor.
        if os.path.exists(f"/dev/mapper/{plan.pool_name}"):
            return plan.table
        for b in self.system.block_devices():
            if b.name == plan.pool_name:
                return f"0 {plan.size_bytes // 512} thin {b.major}:{b.minor} {plan.device_id}"
        return plan.table

    def _recheck_state(self, plan: MountPlan, status: HostStatus) -> None:
        """The cheap re-check before mounting: has Docker started the container meanwhile?"""
        fresh = DockerStateReader(status.docker_root).read_container_state(plan.container.id)
        state = self._check_state(status, fresh)
        if state.refuses_all:
            raise Refused(f"refusing to mount {plan.container.name}: {state.message} (H2)")

    def _recheck(self, plan: MountPlan) -> HostStatus:
        """Docker may start the container at any moment: read its state again just before acting."""
        status = self.read_status()
        fresh = next((c for c in status.docker.containers if c.id == plan.container.id), None)
        if fresh is None:
            raise Refused(f"container {plan.container.name} disappeared")
        state = self._check_state(status, fresh)
        if state.refuses_all:
            raise Refused(f"refusing to mount {plan.container.name}: {state.message} (H2)")
        mapping = self._check_mappings(status, plan)
        if mapping.refuses_all:
            raise Refused(f"refusing to mount {plan.container.name}: {mapping.message}")
        return status

    def _find_block(self, name: str):
        return next((b for b in self.system.block_devices() if b.name == name), None)

    def _wait_block(self, name: str):
        for _ in range(50):  # sysfs shows the device right after the ioctl; allow a moment
            device = self._find_block(name)
            if device is not None:
                return device
            time.sleep(0.05)
        raise DmtuiError(f"{name} was created but does not appear in /sys/block", "see dmesg")

    def _mounted_at(self, mp: str, major: int, minor: int) -> bool:
        own = self.system.own_namespace()
        return any(
            m.mount_point == mp and (m.major, m.minor) == (major, minor) and m.namespace == own
            for m in self.system.mounts()
        )

    def _undo_after_failure(self, record: MountRecord) -> None:
        """A failed mount leaves nothing behind that dmtui made."""
        try:
            self._undo(record, self.read_status())
        except DmtuiError:
            pass  # the journal keeps the record; `dmtui umount` reports what is left

    # -- umount ----------------------------------------------------------------------------

    def umount(self, query: str | Container) -> UmountOutcome:
        status = self.read_status()
        c = query if isinstance(query, Container) else self.resolve(status, query)
        record = self.journal.load(c.mount_id) if c.mount_id else None
        if record is None:
            dev = status.container_device(c)
            where = f" ({self.holders_text(status, dev)})" if dev is not None else ""
            raise Refused(
                f"dmtui did not mount {c.name}{where}",
                "dmtui never unmounts or removes what it did not make",
            )
        if self.dry_run:
            dev = status.device_by_name(record.device_name)
            self.runner.run(["sync", "-f", record.mountpoint])
            self.runner.run(["umount", record.mountpoint])
            if record.created_mountpoint:
                self.runner.step(f"rmdir {_q(record.mountpoint)}", lambda: None)
            if record.created_device is not False:
                self.runner.run(["dmsetup", "remove", record.device_name])
            return UmountOutcome(record.mountpoint, record.created_device is not False)
        return self._undo(record, status)

    def _undo(self, record: MountRecord, status: HostStatus) -> UmountOutcome:
        notes: list[str] = []
        mp = record.mountpoint
        dev = status.device_by_name(record.device_name)
        record.state = "unmounting"
        self.journal.save(record)
        if dev is not None and self._mounted_at(mp, dev.major, dev.minor):
            self.runner.run(["sync", "-f", mp])
            result = self.runner.run(["umount", mp])
            if result.returncode != 0:
                own = self.system.own_namespace()
                users = [u.describe(own) for u in processes_using(mp)]
                who = "; used by " + ", ".join(users) if users else ""
                record.state = "mounted"
                self.journal.save(record)
                raise DmtuiError(
                    f"cannot unmount {mp}: {_one_line(result.stderr)}{who}",
                    "close those programs (a shell cd'ed there counts) and unmount again; "
                    "dmtui never unmounts lazily",
                )
            self.runner.crash_point("unmount")
        if record.created_mountpoint and os.path.isdir(mp) and not os.path.ismount(mp):
            try:
                self.runner.step(f"rmdir {_q(mp)}", lambda: os.rmdir(mp))
            except OSError as exc:
                notes.append(f"left {mp} in place: {exc.strerror}")
        removed = False
        dev = self._find_block(record.device_name)
        if dev is not None and record.created_device is not False:
            fresh = self.read_status()
            view = fresh.device_by_name(record.device_name)
            if view is not None and not _table_matches_record(view, record):
                raise Refused(
                    f"{record.device_name} no longer has dmtui's table",
                    "it was replaced; dmtui leaves it alone",
                )
            record.state = "removing"
            self.journal.save(record)
            removed = self._remove_device(record, dev.major, dev.minor)
            self.runner.crash_point("remove")
        elif dev is not None:
            notes.append(f"left Docker's device {record.device_name} active, as it was found")
        self.journal.delete(record.mount_id)
        return UmountOutcome(mp, removed, notes)

    def _remove_device(self, record: MountRecord, major: int, minor: int) -> bool:
        """`dmsetup remove`, retried while busy as Docker does (200 x 100 ms).

        A short-lived opener (udev's blkid) goes away by itself; a mount does not, so the
        retries stop as soon as the device is found mounted in any namespace.
        """
        argv = ["dmsetup", "remove", record.device_name]
        entry = self.runner.log.start(shlex.join(argv))
        attempts = 0
        while True:
            attempts += 1
            result = self.system.execute(argv)
            busy = "busy" in result.stderr.lower()
            if result.returncode == 0 or not busy or attempts >= REMOVE_ATTEMPTS:
                break
            if any((m.major, m.minor) == (major, minor) for m in self.system.mounts()):
                break  # a mount does not go away by itself
            if attempts >= 10 and processes_on_device(major, minor):
                break  # not a passing opener (udev's blkid): a process keeps it open
            time.sleep(REMOVE_DELAY)
        detail = f"after {attempts} attempts" if attempts > 1 else _one_line(result.stderr)
        self.runner.log.finish(
            entry, result.returncode, "" if result.returncode == 0 and attempts == 1 else detail
        )
        if result.returncode == 0:
            return True
        now = self.read_status()
        view = now.device_by_name(record.device_name)
        holders = self.holders_text(now, view) if view else "unknown"
        record.state = "activated"  # mount gone, device still ours: `umount` again retries
        self.journal.save(record)
        raise DmtuiError(
            f"{record.device_name} is busy and stays active: {holders}",
            "stop whatever holds it (a leaked mount: exit that process or umount inside its "
            "namespace with nsenter), then run `dmtui umount` again",
        )

    # -- trim ------------------------------------------------------------------------------

    def trim(self, query: str | Container) -> TrimOutcome:
        if self.read_only:
            raise Refused("trim writes to the thin pool", "run dmtui without --read-only")
        status = self.read_status()
        c = query if isinstance(query, Container) else self.resolve(status, query)
        record = self.journal.load(c.mount_id) if c.mount_id else None
        if record is None or record.state != "mounted":
            raise DmtuiError(
                f"{c.name} is not mounted by dmtui", f"run `dmtui mount {c.name} --rw` first"
            )
        notes: list[str] = []
        pool = status.pool
        if self.dry_run:
            self.runner.run(["fstrim", "-v", record.mountpoint])
            return TrimOutcome(record.mountpoint, None, None, None)
        if pool is None:
            raise DmtuiError(f"pool {status.pool_name} is not readable", "see `dmtui status`")
        refusal = pool.writable_refusal()
        if refusal:
            raise Refused(f"refusing to trim: {refusal}")
        if pool.status.discard == "ignore_discard":
            notes.append("the pool has ignore_discard: trimming returns nothing to it")
        before = pool.data_used_bytes
        result = self.runner.run(["fstrim", "-v", record.mountpoint])
        if result.returncode != 0:
            raise DmtuiError(f"fstrim failed: {_one_line(result.stderr)}", "see dmesg")
        match = re.search(r"\((\d+) bytes\)", result.stdout) or re.search(
            r"(\d+) bytes", result.stdout
        )
        after_status = self.read_status()
        after = after_status.pool.data_used_bytes if after_status.pool else None
        return TrimOutcome(
            record.mountpoint, int(match.group(1)) if match else None, before, after, notes
        )


def _table_matches_record(view: DeviceView, record: MountRecord) -> bool:
    """Is this still the device dmtui created (same thin id and length)?"""
    fields = record.table.split()
    try:
        length, device_id = int(fields[1]), int(fields[4])
    except (IndexError, ValueError):
        return False
    return (
        view.target == "thin"
        and view.thin_device_id == device_id
        and view.size_bytes == length * 512
    )


def _q(path: str) -> str:
    return shlex.quote(path)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return printable(lines[-1] if lines else "no error message")
