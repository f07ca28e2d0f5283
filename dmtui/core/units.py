"""Byte sizes as operators read them (binary units, like ncdu and du -h)."""

from __future__ import annotations


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    import humanize  # here, not at the top: `dmtui du` starts faster without it

    return humanize.naturalsize(n, binary=True, format="%.1f")


def percent(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return 100.0 * part / whole


def bar(fraction: float, width: int, fill: str = "#", empty: str = " ") -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    return fill * filled + empty * (width - filled)
