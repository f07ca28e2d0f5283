"""Messages from worker threads to the UI."""

from __future__ import annotations

from textual.message import Message

from dmtui.core.commands import LogEntry
from dmtui.core.pool import PoolInfo
from dmtui.core.status import HostStatus


class HostRefreshed(Message):
    def __init__(self, status: HostStatus) -> None:
        super().__init__()
        self.status = status


class PoolSampled(Message):
    def __init__(self, pool: PoolInfo | None, when: float) -> None:
        super().__init__()
        self.pool = pool
        self.when = when

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PoolSampled)


class DevicesChanged(Message):
    """dm uevents arrived; a burst collapses into one re-read."""

    def __init__(self, kernel_names: set[str]) -> None:
        super().__init__()
        self.kernel_names = kernel_names

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DevicesChanged)


class CommandLogged(Message):
    def __init__(self, entry: LogEntry) -> None:
        super().__init__()
        self.entry = entry
