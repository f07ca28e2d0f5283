"""The host's kernel interfaces, behind one small interface.

`LinuxSystem` talks to the real `dmsetup`, `mount`, `umount`, `fstrim`, `/proc` and sysfs.
`dmtui demo` substitutes a simulated host (dmtui.demo.simhost) with the same methods; nothing
else does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from dmtui.core import dmparse
from dmtui.core.dockerconfig import SystemPaths
from dmtui.core.mountinfo import MountEntry, all_mounts

COMMAND_TIMEOUT = 120  # seconds; a hung dmsetup (udev cookie wait) must not hang dmtui


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class BlockDevice:
    """A dm device as sysfs shows it: names come from sysfs, so hosts without udevd work."""

    name: str
    kernel_name: str  # dm-N
    major: int
    minor: int
    size_bytes: int


class System(Protocol):
    paths: SystemPaths

    def dm_unavailable_reason(self) -> str | None: ...
    def block_devices(self) -> list[BlockDevice]: ...
    def dm_tables(self) -> dict[str, list[dmparse.TargetLine]]: ...
    def dm_table(self, name: str) -> list[dmparse.TargetLine] | None: ...
    def dm_status(self, name: str) -> list[dmparse.TargetLine] | None: ...
    def dm_infos(self) -> list[dmparse.DmInfo]: ...
    def mounts(self) -> list[MountEntry]: ...
    def holders(self, kernel_name: str) -> list[str]: ...
    def pid_alive(self, pid: int) -> bool: ...
    def own_namespace(self) -> str | None: ...
    def namespace_of(self, pid: int) -> str | None: ...
    def execute(self, argv: list[str]) -> CommandResult: ...
    def probe_filesystem(self, device_path: str) -> str | None: ...
    def filesystem_usage(self, path: str) -> tuple[int, int, int] | None: ...


def probe_magic(data: bytes) -> str | None:
    """Docker's ProbeFsType: magic bytes of xfs, ext2/3/4 and btrfs."""
    if data[:4] == b"XFSB":
        return "xfs"
    if len(data) >= 0x43A and data[0x438:0x43A] == b"\x53\xef":
        return "ext4"
    if len(data) >= 0x10048 and data[0x10040:0x10048] == b"_BHRfS_M":
        return "btrfs"
    return None


class LinuxSystem:
    """The real host."""

    def __init__(self, paths: SystemPaths | None = None) -> None:
        self.paths = paths or SystemPaths()

    # -- availability ----------------------------------------------------------------------

    def dm_unavailable_reason(self) -> str | None:
        if not self._kernel_has_dm():
            return "the kernel has no device-mapper (dm_mod not loaded)"
        if shutil.which("dmsetup") is None:
            return "dmsetup is not installed (Debian/RHEL package: dmsetup / device-mapper)"
        if os.geteuid() != 0:
            return "not root: device-mapper status needs root; run dmtui with sudo"
        return None

    def _kernel_has_dm(self) -> bool:
        try:
            with open(f"{self.paths.proc}/devices", encoding="ascii", errors="replace") as fh:
                return any(line.split()[-1:] == ["device-mapper"] for line in fh)
        except OSError:
            return False

    # -- sysfs -----------------------------------------------------------------------------

    def block_devices(self) -> list[BlockDevice]:
        devices: list[BlockDevice] = []
        base = f"{self.paths.sys}/block"
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            return devices
        for kname in entries:
            if not kname.startswith("dm-"):
                continue
            try:
                name = _read(f"{base}/{kname}/dm/name")
                major, _, minor = _read(f"{base}/{kname}/dev").partition(":")
                size = int(_read(f"{base}/{kname}/size")) * 512
            except (OSError, ValueError):
                continue  # removed while we looked
            devices.append(BlockDevice(name, kname, int(major), int(minor), size))
        return devices

    def holders(self, kernel_name: str) -> list[str]:
        try:
            return sorted(os.listdir(f"{self.paths.sys}/block/{kernel_name}/holders"))
        except OSError:
            return []

    # -- dmsetup ---------------------------------------------------------------------------

    def _dmsetup(self, *args: str) -> str | None:
        result = self.execute(["dmsetup", *args])
        if result.returncode != 0:
            return None
        return result.stdout

    def dm_tables(self) -> dict[str, list[dmparse.TargetLine]]:
        out = self._dmsetup("table")
        return dmparse.parse_named_lines(out) if out else {}

    def dm_table(self, name: str) -> list[dmparse.TargetLine] | None:
        out = self._dmsetup("table", name)
        if out is None:
            return None
        return [dmparse.parse_target_line(line) for line in out.splitlines() if line.strip()]

    def dm_status(self, name: str) -> list[dmparse.TargetLine] | None:
        out = self._dmsetup("status", name)
        if out is None:
            return None
        return [dmparse.parse_target_line(line) for line in out.splitlines() if line.strip()]

    def dm_infos(self) -> list[dmparse.DmInfo]:
        out = self._dmsetup("info")
        return dmparse.parse_dmsetup_info(out) if out else []

    # -- processes and mounts --------------------------------------------------------------

    def mounts(self) -> list[MountEntry]:
        return all_mounts(self.paths.proc)

    def pid_alive(self, pid: int) -> bool:
        return pid > 0 and os.path.isdir(f"{self.paths.proc}/{pid}")

    def own_namespace(self) -> str | None:
        return self.namespace_of(os.getpid())

    def namespace_of(self, pid: int) -> str | None:
        try:
            return os.readlink(f"{self.paths.proc}/{pid}/ns/mnt")
        except OSError:
            return None

    def execute(self, argv: list[str]) -> CommandResult:
        env = dict(os.environ, LC_ALL="C")
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=COMMAND_TIMEOUT,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            return CommandResult(127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(124, "", f"{argv[0]} timed out after {COMMAND_TIMEOUT} s")
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def filesystem_usage(self, path: str) -> tuple[int, int, int] | None:
        return statvfs_usage(path)

    def probe_filesystem(self, device_path: str) -> str | None:
        try:
            fd = os.open(device_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return probe_magic(os.pread(fd, 0x10048, 0))
        except OSError:
            return None
        finally:
            os.close(fd)


def statvfs_usage(path: str) -> tuple[int, int, int] | None:
    """(size, used, free for unprivileged users) of the filesystem at `path`, like df."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    size = st.f_blocks * st.f_frsize
    return size, size - st.f_bfree * st.f_frsize, st.f_bavail * st.f_frsize


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return fh.read().strip()
