"""`dmtui du` output: an ncdu-like listing that fits 80 columns, or JSON."""

from __future__ import annotations

from dmtui.core.text import fit, printable
from dmtui.core.units import bar, human_bytes
from dmtui.diskusage.model import ERROR, ERROR_BELOW, HARDLINK_DUP, OTHER_FS, DirNode, Entry

WIDTH = 80


def flag_char(entry: Entry) -> str:
    """ncdu's flag column: ! error, . error below, > other filesystem, H hard link, @ special."""
    if entry.flags & ERROR:
        return "!"
    if entry.flags & ERROR_BELOW:
        return "."
    if entry.flags & OTHER_FS:
        return ">"
    if entry.flags & HARDLINK_DUP:
        return "H"
    if entry.kind_name in ("symlink", "other"):
        return "@"
    if entry.is_dir and entry.node is not None and entry.items <= 1:
        return "e"
    return " "


def entry_json(entry: Entry) -> dict:
    out = {
        "name": entry.name,
        "type": entry.kind_name,
        "disk_bytes": entry.disk,
        "apparent_bytes": entry.apparent,
        "items": entry.items,
    }
    if entry.flags & OTHER_FS:
        out["other_filesystem"] = True
    if entry.flags & ERROR:
        out["error"] = True
    if entry.flags & HARDLINK_DUP:
        out["hardlink_counted_elsewhere"] = True
    return out


def tree_json(root: DirNode, path: str, children: list[Entry]) -> dict:
    return {
        "path": path,
        "disk_bytes": root.disk,
        "apparent_bytes": root.apparent,
        "items": root.items,
        "children": [entry_json(e) for e in children],
    }


def render_listing(root: DirNode, path: str, children: list[Entry], apparent: bool) -> str:
    lines = [fit(f"--- {printable(path)} ---", WIDTH)]
    key = (lambda e: e.apparent) if apparent else (lambda e: e.disk)
    largest = max((key(e) for e in children), default=0) or 1
    for e in children:
        size = human_bytes(key(e))
        name = printable(e.name) + ("/" if e.is_dir else "")
        meter = bar(key(e) / largest, 10)
        lines.append(fit(f"{flag_char(e)}{size:>11} [{meter}] {name}", WIDTH))
    lines.append(
        fit(
            f" Total disk usage: {human_bytes(root.disk)}  Apparent size: "
            f"{human_bytes(root.apparent)}  Items: {root.items}",
            WIDTH,
        )
    )
    return "\n".join(lines) + "\n"
