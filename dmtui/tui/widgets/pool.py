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
SPARK_EVERY = 5  # redraw the sparkline every N samples: each redraw costs bytes over SSH
BAR_WIDTH = 18


def usage_bar(label: str, used: int | None, total: int | None, warn_at: float) -> tuple[Text, Text]:
    """The bar line and the bytes line of one usage meter."""
    text = Text(f"{label:<5}")
    if used is None or not total:
        return text.append("unknown", style="red"), Text("")
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
    return text, Text(f"      {human_bytes(used)} of {human_bytes(total)}", style="dim")


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
    return f"full in ~{humanize.naturaldelta(seconds)}"


LINES = ("data", "data-bytes", "meta", "meta-bytes", "mode", "policy", "min", "eta")


class PoolPane(Vertical, can_focus=True):
    """One Static per line: a sample repaints only the lines whose text changed."""

    BORDER_TITLE = "2 Thin pool"

    def __init__(self) -> None:
        super().__init__(id="pool")
        self.samples: deque[tuple[float, int]] = deque(maxlen=HISTORY)
        self._shown: dict[str, str] = {}
        self._count = 0

    def compose(self) -> ComposeResult:
        for line in LINES:
            yield Static("", id=f"pool-{line}", classes="pool-line")
        yield Sparkline([], id="pool-spark")

    def _set(self, line: str, text: Text) -> None:
        if self._shown.get(line) == text.plain + repr(text.spans):
            return
        self._shown[line] = text.plain + repr(text.spans)
        self.query_one(f"#pool-{line}", Static).update(text)

    def show(self, pool: PoolInfo | None, when: float, name: str = "") -> None:
        if pool is None:
            self._set("data", Text(f"{name or 'pool'}: not readable", style="red"))
            return
        used, total = pool.data_used_bytes, pool.data_total_bytes
        if used is not None:
            self.samples.append((when, used))
        s = pool.status
        min_free = pool.min_free_bytes or 0
        warn_at = 1 - (min_free / total) if total else 0.9
        data_bar, data_bytes = usage_bar("data", used, total, warn_at)
        meta_bar, meta_bytes = usage_bar(
            "meta", pool.metadata_used_bytes, pool.metadata_total_bytes, 0.9
        )
        self._set("data", data_bar)
        self._set("data-bytes", data_bytes)
        self._set("meta", meta_bar)
        self._set("meta-bytes", meta_bytes)
        mode = Text("mode ")
        mode.append(s.mode, style="green" if s.mode == "rw" else "bold red")
        if s.needs_check:
            mode.append(" needs_check", style="bold red")
        mode.append(f"  tx {s.transaction_id}", style="dim")
        self._set("mode", mode)
        self._set("policy", Text(s.no_space_policy or "", style="dim"))
        refusal = pool.docker_refusal()
        minimum = Text(f"min free {human_bytes(min_free)}", style="yellow" if refusal else "dim")
        if refusal:
            minimum.append(" (below: no new containers)", style="yellow")
        self._set("min", minimum)
        if used is not None and total:
            self._set("eta", Text(time_until_full(self.samples, total, used), style="dim"))
        self._count += 1
        if self._count % SPARK_EVERY == 1:
            self.query_one("#pool-spark", Sparkline).data = [u for _, u in self.samples]
