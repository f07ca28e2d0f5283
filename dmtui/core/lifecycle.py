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
from dmtui.core.holders import processes_on_device, processes_using
from dmtui.core.journal import Journal, MountRecord, interrupted
from dmtui.core.safety import (
    Check,
    MountPlan,
    check_device,
    check_kernel,
    check_mappings,
    check_mountpoint,
    check_state,
    holders_text,
)
from dmtui.core.status import DeviceView, HostStatus, read_host_status
from dmtui.core.system import System
from dmtui.core.text import printable

REMOVE_ATTEMPTS = 200  # Docker retries a busy removal 200 times every 100 ms
REMOVE_DELAY = 0.1
HEX = re.compile(r"^[0-9a-f]+$")


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
        checks.append(check_state(self.system, status, c))
        device_check, meta = check_device(status, c)
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
        checks.extend(check_kernel(self.system, status, plan, self.dry_run))
        checks.append(check_mountpoint(status, plan))
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
        state = check_state(self.system, status, fresh)
        if state.refuses_all:
            raise Refused(f"refusing to mount {plan.container.name}: {state.message} (H2)")

    def _recheck(self, plan: MountPlan) -> HostStatus:
        """Docker may start the container at any moment: read its state again just before acting."""
        status = self.read_status()
        fresh = next((c for c in status.docker.containers if c.id == plan.container.id), None)
        if fresh is None:
            raise Refused(f"container {plan.container.name} disappeared")
        state = check_state(self.system, status, fresh)
        if state.refuses_all:
            raise Refused(f"refusing to mount {plan.container.name}: {state.message} (H2)")
        mapping = check_mappings(self.system, status, plan)
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
            where = f" ({holders_text(self.system, status, dev)})" if dev is not None else ""
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
        holders = holders_text(self.system, now, view) if view else "unknown"
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
