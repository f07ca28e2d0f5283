"""`dmtui mount`, `dmtui umount`, `dmtui trim`: the CLI face of dmtui.core.lifecycle."""

from __future__ import annotations

import argparse
import sys

from dmtui.core.commands import CommandLog, LogEntry, Runner
from dmtui.core.errors import Refused
from dmtui.core.journal import Journal
from dmtui.core.lifecycle import Lifecycle
from dmtui.core.system import LinuxSystem
from dmtui.core.text import printable
from dmtui.core.units import human_bytes


def _announce(entry: LogEntry) -> None:
    """Show each privileged command before it runs (stderr keeps stdout for the result)."""
    if entry.status == "running":
        print(f"+ {entry.command}", file=sys.stderr)
    elif entry.status == "failed":
        print(f"  -> exit {entry.returncode}: {entry.detail}", file=sys.stderr)


def run_lifecycle(args: argparse.Namespace) -> int:
    dry_run = getattr(args, "dry_run", False)
    log = CommandLog(persist=not dry_run)
    if dry_run:
        log.listeners.append(lambda e: print(e.command))
    else:
        log.listeners.append(_announce)
    system = LinuxSystem()
    life = Lifecycle(
        system,
        args.docker_root,
        args.pool,
        read_only=args.read_only,
        runner=Runner(system, log, dry_run=dry_run),
        journal=Journal(),
    )
    for record in life.interrupted_records():
        print(
            f"dmtui: an earlier dmtui was interrupted while {record.state} "
            f"{printable(record.label)}: `dmtui umount {printable(record.label)}` undoes it, "
            f"`dmtui mount {printable(record.label)}{' --rw' if record.read_write else ''}` "
            f"finishes it",
            file=sys.stderr,
        )
    if args.command == "mount":
        return _mount(life, args)
    if args.command == "umount":
        outcome = life.umount(args.container)
        for note in outcome.notes:
            print(f"dmtui: {note}", file=sys.stderr)
        return 0
    outcome = life.trim(args.container)
    if not dry_run:
        before, after = outcome.pool_used_before, outcome.pool_used_after
        freed = before - after if before is not None and after is not None else None
        print(
            f"trimmed {human_bytes(outcome.trimmed_bytes)} on {outcome.mountpoint}; pool data "
            f"used {human_bytes(before)} -> {human_bytes(after)} "
            f"(returned {human_bytes(freed)})"
        )
        for note in outcome.notes:
            print(f"dmtui: {note}", file=sys.stderr)
    return 0


def _mount(life: Lifecycle, args: argparse.Namespace) -> int:
    if args.rw and args.read_only:
        raise Refused("--rw with --read-only", "drop one of them")
    plan = life.plan_mount(args.container, read_write=args.rw, at=args.at)
    for warning in plan.warnings:
        print(f"dmtui: warning: {warning.message}", file=sys.stderr)
    outcome = life.mount(plan)
    if not life.dry_run:
        for note in outcome.notes:
            if note not in (w.message for w in plan.warnings):
                print(f"dmtui: {note}", file=sys.stderr)
        print(outcome.rootfs)
    return 0
