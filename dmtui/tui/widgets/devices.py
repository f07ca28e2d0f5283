"""The dm devices pane, refreshed from pyudev kernel events."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dmtui.core.status import HostStatus
from dmtui.core.units import human_bytes
from dmtui.tui.widgets.safe import safe


class DevicesTable(DataTable):
    BORDER_TITLE = "3 dm devices"

    def __init__(self) -> None:
        super().__init__(cursor_type="row", id="devices")
        self._signature: tuple = ()

    def on_mount(self) -> None:
        self.add_columns("NAME", "DM", "TARGET", "SIZE", "OPEN", "MOUNTS")

    def show(self, status: HostStatus) -> None:
        rows = []
        for d in status.devices:
            name = d.name
            if status.device_prefix and name.startswith(status.device_prefix + "-"):
                name = "…" + name[len(status.device_prefix) :][:13]
            mounts = [
                f"{m.mount_point} ({status.namespace_label(m, short=True)})" for m in d.mounts
            ]
            extra = " deferred-remove" if d.deferred_remove else ""
            rows.append(
                (
                    d.name,
                    name,
                    d.kernel_name,
                    d.target or "-",
                    human_bytes(d.size_bytes),
                    "-" if d.open_count is None else str(d.open_count),
                    "; ".join(mounts) + extra,
                )
            )
        signature = tuple(rows)
        if signature == self._signature:
            return
        self._signature = signature
        self.clear()
        for key, name, kname, target, size, open_count, mounts in rows:
            self.add_row(
                safe(name),
                Text(kname),
                Text(target, style="magenta" if target == "thin-pool" else ""),
                Text(size, justify="right"),
                Text(open_count, justify="right"),
                safe(mounts, "yellow" if "deferred" in mounts else ""),
                key=key,
            )
