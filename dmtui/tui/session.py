"""What the TUI works with: one host (real or simulated) and the backend operations on it.

The TUI adds no second path to the kernel: everything here delegates to dmtui.core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dmtui.core import dmparse
from dmtui.core.commands import CommandLog, Runner
from dmtui.core.journal import Journal, MountRecord, interrupted
from dmtui.core.lifecycle import Lifecycle
from dmtui.core.pool import PoolInfo
from dmtui.core.safety import MountPlan
from dmtui.core.status import HostStatus, read_host_status
from dmtui.core.system import System


@dataclass
class Session:
    system: System
    docker_root: str | None = None
    pool: str | None = None
    read_only: bool = False
    interval: float = 2.0
    demo: bool = False
    log: CommandLog = field(default_factory=CommandLog)
    status: HostStatus | None = None
    _pool_table: dmparse.ThinPoolTable | None = None

    def __post_init__(self) -> None:
        self.journal = Journal()
        self.lifecycle = Lifecycle(
            self.system,
            self.docker_root,
            self.pool,
            read_only=self.read_only,
            runner=Runner(self.system, self.log),
            journal=self.journal,
        )

    # -- reads (called in worker threads) ------------------------------------------------

    def read_status(self) -> HostStatus:
        self.status = read_host_status(self.system, self.docker_root, self.pool)
        if self.status.pool is not None:
            self._pool_table = self.status.pool.table
        return self.status

    def sample_pool(self) -> tuple[PoolInfo | None, float]:
        """One cheap read per refresh: `dmsetup status <pool>` (the table is cached)."""
        status = self.status
        if status is None or status.pool is None or self._pool_table is None:
            return None, time.monotonic()
        lines = self.system.dm_status(status.pool_name)
        if not lines:
            return None, time.monotonic()
        try:
            parsed = dmparse.parse_thin_pool_status(lines[0].params)
        except dmparse.ParseError:
            return None, time.monotonic()
        old = status.pool
        return (
            PoolInfo(
                old.name, old.major, old.minor, self._pool_table, parsed, old.min_free_percent
            ),
            time.monotonic(),
        )

    def dry_run_commands(self, plan: MountPlan) -> list[str]:
        dry = Lifecycle(
            self.system,
            self.docker_root,
            self.pool,
            read_only=self.read_only,
            runner=Runner(self.system, CommandLog(persist=False), dry_run=True),
            journal=self.journal,
        )
        try:
            dry.mount(plan)
        except Exception:  # noqa: BLE001 - a refused plan has no commands to show
            return []
        return [e.command for e in dry.runner.log.entries]

    def mounted_records(self) -> list[MountRecord]:
        return [r for r in self.journal.records() if r.state == "mounted"]

    def interrupted_records(self) -> list[MountRecord]:
        return [r for r in self.journal.records() if interrupted(r)]
