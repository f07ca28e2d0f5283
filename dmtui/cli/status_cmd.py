"""`dmtui status`: a human summary that fits 80 columns, or the JSON contract."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from dmtui.core.status import HostStatus, read_host_status, status_json
from dmtui.core.system import LinuxSystem
from dmtui.core.text import fit, printable
from dmtui.core.units import bar, human_bytes, percent

WIDTH = 80


def run_status(args: argparse.Namespace) -> int:
    status = read_host_status(LinuxSystem(), args.docker_root, args.pool)
    if args.json:
        json.dump(status_json(status), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_status(status))
    return 0


def _usage_line(label: str, used: int | None, total: int | None) -> str:
    pct = percent(used, total)
    shown = "" if pct is None else f"{pct:5.1f}%"
    meter = bar((pct or 0) / 100, 20)
    return f"  {label:<9}[{meter}] {shown}  {human_bytes(used)} of {human_bytes(total)}"


def render_status(status: HostStatus) -> str:
    lines: list[str] = []
    cfg = status.config
    lines.append(f"Docker root  {printable(status.docker_root)}  ({cfg.docker_root_source})")
    lines.append(f"Prefix       {status.device_prefix or '-'}")
    pool = status.pool
    if pool is None:
        lines.append(f"Thin pool    {printable(status.pool_name)}  (not readable)")
    else:
        s = pool.status
        flags = [s.mode]
        if s.needs_check:
            flags.append("needs_check")
        if s.no_space_policy:
            flags.append(s.no_space_policy)
        if s.discard and s.discard != "discard_passdown":
            flags.append(s.discard)
        lines.append(f"Thin pool    {printable(pool.name)}")
        lines.append(f"             {' '.join(flags)}  transaction {s.transaction_id}")
        lines.append(_usage_line("data", pool.data_used_bytes, pool.data_total_bytes))
        lines.append(_usage_line("metadata", pool.metadata_used_bytes, pool.metadata_total_bytes))
        lines.append(
            f"  min free {human_bytes(pool.min_free_bytes)} ({pool.min_free_percent}%, "
            f"dm.min_free_space)"
        )
    lines.append("")
    containers = sorted(status.docker.containers, key=lambda c: (c.name or "", c.id))
    lines.append(f"CONTAINERS ({len(containers)})")
    lines.append(f"  {'NAME':<20} {'STATE':<13} {'IMAGE':<20} {'SIZE':>9} DEVICE")
    for c in containers:
        state = c.state or "?"
        if c.state == "exited" and c.exit_code is not None:
            state = f"exited({c.exit_code})"
        if c.stale:
            state += "!"
        meta = c.device
        dev = status.container_device(c)
        where = "-"
        if meta and meta.deleted:
            where = "deleted"
        elif dev is not None:
            where = "mounted" if dev.mounts else "active"
        size = human_bytes(meta.size) if meta else "-"
        lines.append(
            f"  {fit(printable(c.name), 20):<20} {fit(state, 13):<13} "
            f"{fit(printable(c.image), 20):<20} {size:>9} {where}"
        )
    lines.append("")
    lines.append(f"DM DEVICES ({len(status.devices)})")
    if status.devices:
        lines.append(f"  {'NAME':<38} {'DEV':<6} {'TARGET':<9} {'SIZE':>9} OPEN")
    for d in status.devices:
        name = d.name
        if status.device_prefix and name.startswith(status.device_prefix + "-"):
            name = "…-" + name[len(status.device_prefix) + 1 :]
        lines.append(
            f"  {fit(printable(name), 38):<38} {d.kernel_name:<6} {d.target or '-':<9} "
            f"{human_bytes(d.size_bytes):>9} {d.open_count if d.open_count is not None else '-'}"
            + (" deferred-remove" if d.deferred_remove else "")
        )
        for m in d.mounts:
            ns = status.namespace_label(m, short=True)
            lines.append(f"    mounted {fit(printable(m.mount_point), 46)} ({ns})")
    lines.append("")
    lines.append(f"PROBLEMS ({len(status.problems)})")
    for p in status.problems:
        wrapped = textwrap.wrap(
            printable(p.message),
            WIDTH - 2,
            initial_indent=f"{p.severity:<8}",
            subsequent_indent=" " * 8,
            break_on_hyphens=False,
        )
        lines.extend("  " + w for w in wrapped)
    return "".join(_fold(line) for line in lines)


def _fold(line: str) -> str:
    """Wrap a line wider than the terminal, indenting what follows."""
    if len(line) <= WIDTH:
        return line + "\n"
    parts = textwrap.wrap(
        line, WIDTH, subsequent_indent=" " * 13, break_on_hyphens=False, drop_whitespace=False
    )
    return "\n".join(p.rstrip() for p in parts) + "\n"
