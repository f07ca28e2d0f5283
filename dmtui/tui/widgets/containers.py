"""The containers pane: one row per container, problems flagged on the row, `/` filters."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dmtui.core.status import HostStatus
from dmtui.core.units import human_bytes
from dmtui.tui.widgets.safe import safe

STATE_STYLE = {
    "running": "bold green",
    "paused": "yellow",
    "restarting": "yellow",
    "exited": "",
    "created": "dim",
    "dead": "red",
    "removing": "red",
}


class ContainersTable(DataTable):
    BORDER_TITLE = "1 Containers"

    def __init__(self) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id="containers")
        self._signature: tuple = ()
        self.filter_text = ""

    def on_mount(self) -> None:
        self.add_columns("NAME", "STATE", "IMAGE", "SIZE", "DEVICE", "!")

    def rows_for(self, status: HostStatus) -> list[tuple]:
        problems = [p.message for p in status.problems]
        rows = []
        for c in sorted(status.docker.containers, key=lambda c: (c.name or "", c.id)):
            text = f"{c.name} {c.image} {c.id}".lower()
            if self.filter_text and self.filter_text.lower() not in text:
                continue
            dev = status.container_device(c)
            meta = c.device
            if meta and meta.deleted:
                where = "deleted"
            elif dev is not None and dev.mounts:
                point = dev.mounts[0].mount_point
                where = "mounted " + (point if len(point) <= 28 else "…" + point[-27:])
                if len(dev.mounts) > 1:
                    where += f" +{len(dev.mounts) - 1}"
            elif dev is not None:
                where = "active"
            else:
                where = "-"
            state = c.state or "unreadable"
            if c.state == "exited" and c.exit_code is not None:
                state = f"exited ({c.exit_code})"
            if c.stale:
                state += " stale"
            flagged = [m for m in problems if c.id[:12] in m or (c.name and c.name in m)]
            rows.append(
                (
                    c.id,
                    c.name,
                    state,
                    c.image,
                    human_bytes(meta.size) if meta else "-",
                    where,
                    len(flagged),
                    c.state,
                )
            )
        return rows

    def show(self, status: HostStatus) -> None:
        rows = self.rows_for(status)
        signature = tuple(rows)
        if signature == self._signature:
            return  # a table repaint costs bandwidth over SSH: only when data changed
        self._signature = signature
        keep = self.selected_id()
        self.clear()
        for cid, name, state, image, size, where, flags, raw_state in rows:
            self.add_row(
                safe(name or cid[:12], "bold" if raw_state == "exited" else ""),
                Text(state, style=STATE_STYLE.get(raw_state or "", "red")),
                safe(image, "dim"),
                Text(size, justify="right"),
                safe(where, "cyan" if where.startswith("mounted") else ""),
                Text("!" if flags else "", style="bold red"),
                key=cid,
            )
        if keep:
            self.select_id(keep)

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None
        return key.value

    def select_id(self, cid: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(cid))
        except Exception:  # noqa: BLE001 - filtered out or gone
            pass
