"""The thin pool pane: usage bars, a sparkline of data usage, the time until full."""

from __future__ import annotations

from collections import deque

import humanize
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from dmtui.core.pool import PoolInfo
from dmtui.core.units import human_bytes

HISTORY = 120  # samples kept for the sparkline and the rate (4 minutes at 2 s)
BAR_WIDTH = 18


def usage_bar(label: str, used: int | None, total: int | None, warn_at: float) -> Text:
    text = Text(f"{label:<5}")
    if used is None or not total:
        return text.append("unknown", style="red")
    fraction = used / total
    filled = round(fraction * BAR_WIDTH)
    style = "green"
    if fraction >= 0.95:
        style = "bold red"
    elif fraction >= warn_at:
        style = "yellow"
    text.append("█" * filled, style=style)
    text.append("░" * (BAR_WIDTH - filled), style="dim")
    text.append(f" {fraction * 100:5.1f}%", style=style)
    text.append(f"\n      {human_bytes(used)} of {human_bytes(total)}", style="dim")
    return text


def time_until_full(samples: deque[tuple[float, int]], total: int, used: int) -> str:
    """Linear rate over the kept samples; shown only while usage grows."""
    if len(samples) < 3:
        return "measuring…"
    (t0, u0), (t1, u1) = samples[0], samples[-1]
    if t1 <= t0:
        return "measuring…"
    rate = (u1 - u0) / (t1 - t0)
    if rate <= 0:
        return "not filling"
    seconds = (total - used) / rate
    return f"full in ~{humanize.naturaldelta(seconds)} ({human_bytes(int(rate))}/s)"


class PoolPane(Vertical, can_focus=True):
    BORDER_TITLE = "2 Thin pool"

    def __init__(self) -> None:
        super().__init__(id="pool")
        self.samples: deque[tuple[float, int]] = deque(maxlen=HISTORY)
        self._last: tuple = ()

    def compose(self) -> ComposeResult:
        yield Static(Text("reading…", style="dim"), id="pool-text")
        yield Sparkline([], id="pool-spark")

    def show(self, pool: PoolInfo | None, when: float, name: str = "") -> None:
        text = self.query_one("#pool-text", Static)
        if pool is None:
            message = Text(f"{name or 'pool'}: not readable", style="red")
            if self._last != ("none",):
                self._last = ("none",)
                text.update(message)
            return
        used, total = pool.data_used_bytes, pool.data_total_bytes
        if used is not None:
            self.samples.append((when, used))
        s = pool.status
        eta = time_until_full(self.samples, total, used) if used is not None and total else ""
        key = (used, pool.metadata_used_bytes, s.mode, s.needs_check, s.transaction_id, eta)
        if key != self._last:
            self._last = key
            min_free = pool.min_free_bytes or 0
            warn_at = 1 - (min_free / total) if total else 0.9
            body = Text()
            body.append_text(usage_bar("data", used, total, warn_at))
            body.append("\n")
            body.append_text(
                usage_bar("meta", pool.metadata_used_bytes, pool.metadata_total_bytes, 0.9)
            )
            body.append("\nmode ")
            body.append(s.mode, style="green" if s.mode == "rw" else "bold red")
            if s.needs_check:
                body.append(" needs_check", style="bold red")
            body.append(f"  tx {s.transaction_id}", style="dim")
            body.append(f"\n{s.no_space_policy or ''}", style="dim")
            refusal = pool.docker_refusal()
            body.append(f"\nmin free {human_bytes(min_free)}", style="yellow" if refusal else "dim")
            if refusal:
                body.append(" (below: Docker refuses new containers)", style="yellow")
            if eta:
                body.append(f"\n{eta}", style="dim")
            text.update(body)
            spark = self.query_one("#pool-spark", Sparkline)
            spark.data = [u for _, u in self.samples]
