"""Privileged steps: shown as a shell command before they run, logged after they ran.

Every step that changes the host goes through `Runner`, so the CLI, the TUI's command log
(`@`) and `--dry-run` all see the same commands. External programs run for real; the few
in-process steps (mkdir, rmdir) carry the shell command that does the same.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dmtui.core.system import CommandResult, System

STATE_DIR_ENV = "DMTUI_STATE_DIR"
DEFAULT_STATE_DIR = "/run/dmtui"


def state_dir() -> str:
    """Where dmtui keeps its journal, command log and mount points (tmpfs: gone at reboot)."""
    return os.environ.get(STATE_DIR_ENV, DEFAULT_STATE_DIR)


@dataclass(slots=True)
class LogEntry:
    time: float
    command: str
    status: str  # "running" | "ok" | "failed" | "dry-run"
    returncode: int | None = None
    detail: str = ""

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        result = self.status if self.returncode in (None, 0) else f"exit {self.returncode}"
        tail = f"  ({self.detail})" if self.detail else ""
        return f"{stamp} {result:<8} {self.command}{tail}"


Listener = Callable[[LogEntry], None]


@dataclass
class CommandLog:
    """In-memory log, mirrored to `<state dir>/commands.log` as JSON lines when persisting."""

    persist: bool = True
    entries: list[LogEntry] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _notify(self, entry: LogEntry) -> None:
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:  # noqa: BLE001 - a UI listener must never break a step
                pass

    def start(self, command: str, status: str = "running") -> LogEntry:
        entry = LogEntry(time.time(), command, status)
        with self._lock:
            self.entries.append(entry)
        self._notify(entry)
        return entry

    def finish(self, entry: LogEntry, returncode: int, detail: str = "") -> None:
        entry.status = "ok" if returncode == 0 else "failed"
        entry.returncode = returncode
        entry.detail = detail
        self._notify(entry)
        if self.persist:
            self._append(entry)

    def _append(self, entry: LogEntry) -> None:
        try:
            os.makedirs(state_dir(), mode=0o700, exist_ok=True)
            with open(os.path.join(state_dir(), "commands.log"), "a", encoding="utf-8") as fh:
                fh.write(
                    json.dumps(
                        {
                            "time": entry.time,
                            "command": entry.command,
                            "returncode": entry.returncode,
                            "detail": entry.detail,
                            "pid": os.getpid(),
                        }
                    )
                    + "\n"
                )
        except OSError:
            pass  # the log must never stop a recovery


def read_persisted_log(limit: int = 500) -> list[LogEntry]:
    """Earlier dmtui runs' commands (for the TUI's command log)."""
    path = os.path.join(state_dir(), "commands.log")
    entries: list[LogEntry] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()[-limit:]
    except OSError:
        return entries
    for line in lines:
        try:
            d = json.loads(line)
            rc = d.get("returncode")
            entries.append(
                LogEntry(d["time"], d["command"], "ok" if rc == 0 else "failed", rc, d["detail"])
            )
        except (ValueError, KeyError, TypeError):
            continue
    return entries


class Runner:
    """Runs (or, in dry-run, only records) privileged steps."""

    def __init__(self, system: System, log: CommandLog | None = None, dry_run: bool = False):
        self.system = system
        self.log = log or CommandLog(persist=not dry_run)
        self.dry_run = dry_run

    def run(self, argv: list[str]) -> CommandResult:
        shell = shlex.join(argv)
        if self.dry_run:
            self.log.start(shell, status="dry-run")
            return CommandResult(0, "", "")
        entry = self.log.start(shell)
        result = self.system.execute(argv)
        self.log.finish(entry, result.returncode, first_line(result.stderr or result.stdout))
        return result

    def step(self, shell: str, action: Callable[[], None]) -> None:
        """An in-process step with its shell equivalent (mkdir, rmdir)."""
        if self.dry_run:
            self.log.start(shell, status="dry-run")
            return
        entry = self.log.start(shell)
        try:
            action()
        except OSError as exc:
            self.log.finish(entry, 1, exc.strerror or str(exc))
            raise
        self.log.finish(entry, 0)

    @staticmethod
    def crash_point(step: str) -> None:
        """Fault injection for the real-kernel crash tests: SIGKILL ourselves after `step`.

        Only active when DMTUI_CRASH_AFTER names the step; this is how the tests prove that a
        dmtui killed between any two steps leaves a journal the next start can act on.
        """
        if os.environ.get("DMTUI_CRASH_AFTER") == step:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
