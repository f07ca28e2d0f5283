"""The demo host: the seed incident and its neighbours, on a simulated kernel.

kubesql-server  exited (137), its filesystem full; the largest item is
                /var/log/kubesql/kubesql.log
web             running: the safety checks refuse to mount it
gone            its device is marked deleted
idle            exited, restart policy always (a warning)
"""

from __future__ import annotations

import os

from dmtui.core.dockerconfig import device_prefix_for
from dmtui.core.journal import Journal
from dmtui.demo.docker_layout import DockerLayout
from dmtui.demo.simhost import SimulatedHost

MIB = 1 << 20
MARKER = ".dmtui-demo"


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def _fill_kubesql(rootfs: str) -> None:
    chunk = b"2026-11-27T03:14:15Z ERROR replication lag 31s; retrying\n" * 1170  # ~64 KiB
    log = os.path.join(rootfs, "var/log/kubesql/kubesql.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "wb") as fh:
        for _ in range(44 * 16):  # 44 MiB of a log nobody rotated
            fh.write(chunk)
    for i in range(1, 4):
        _write(os.path.join(rootfs, f"var/log/kubesql/kubesql.log.{i}.gz"), os.urandom(MIB // 2))
    for i in range(12):
        _write(os.path.join(rootfs, f"var/lib/kubesql/data/segment-{i:04d}.db"), b"\1" * 256_000)
    _write(os.path.join(rootfs, "var/lib/kubesql/wal/000000010000000A"), b"\2" * 2 * MIB)
    for i in range(120):
        _write(os.path.join(rootfs, f"usr/lib/kubesql/modules/mod{i:03d}.so"), b"\x7fELF" * 2000)
    _write(os.path.join(rootfs, "etc/kubesql/kubesql.conf"), b"data_dir=/var/lib/kubesql\n")
    _write(os.path.join(rootfs, "tmp/[bold]not-markup.txt"), b"shown literally\n")
    os.symlink("/etc/shadow", os.path.join(rootfs, "tmp/host-link"))


def build_demo(
    base: str, *, moving: bool = True, pool_name: str | None = None
) -> tuple[SimulatedHost, str]:
    """Create (or reuse) the demo under `base`; return the simulated kernel and docker root."""
    os.makedirs(base, exist_ok=True)
    base = os.path.abspath(base)
    root = os.path.join(base, "docker")
    host = SimulatedHost(base, moving=moving)
    fresh = not os.path.exists(os.path.join(base, MARKER))
    sizes: dict[int, int] = {}

    def on_create(hash_: str, device_id: int, origin, size: int, tx: int) -> None:
        sizes[device_id] = size
        host.transaction_id = tx

    if fresh:
        layout = DockerLayout(root, on_create=on_create)
        layout.init_driver("xfs", 53 * MIB)
        debian = layout.add_image_layer("debian")
        app = layout.add_image_layer("kubesql", debian)
        full = layout.add_container(
            "kubesql-server",
            "kubesql:2.1",
            app,
            state="exited",
            exit_code=137,
            error="no space left on device",
        )
        web = layout.add_container(
            "web", "nginx:1.19", debian, state="running", pid=os.getpid(), restart_policy="always"
        )
        gone = layout.add_container("gone", "busybox:latest", debian, state="exited")
        layout.mark_deleted(gone.mount_id)
        idle = layout.add_container(
            "idle", "alpine:3.18", debian, state="exited", restart_policy="always"
        )
        for rec in (full, web, gone, idle):
            d = host.device_dir(rec.device_id)
            os.makedirs(os.path.join(d, "rootfs", "etc"), exist_ok=True)
            _write(os.path.join(d, "id"), rec.mount_id.encode())
        _fill_kubesql(os.path.join(host.device_dir(full.device_id), "rootfs"))
        _write(os.path.join(host.device_dir(idle.device_id), "rootfs/tmp/cache.bin"), b"c" * MIB)
        with open(os.path.join(base, MARKER), "w") as fh:
            fh.write(f"{web.device_id} {full.device_id}\n")
    _attach(host, root, pool_name)
    return host, root


def _attach(host: SimulatedHost, root: str, pool_name: str | None) -> None:
    """Rebuild the simulated kernel state from the docker root's files."""
    from dmtui.core.dockerstate import DockerStateReader

    prefix = device_prefix_for(os.path.join(root, "devicemapper"))
    host.pool_name = pool_name or f"{prefix}-pool"
    host.add_device(
        host.pool_name,
        "thin-pool",
        "7:1 7:0 128 32768 1 skip_block_zeroing",
        host.data_total_blocks * 128,
    )
    state = DockerStateReader(root).read()
    tx = state.transaction.open_transaction_id if state.transaction else 0
    host.transaction_id = tx
    for meta in state.devices.values():
        if meta.device_id is None:
            continue
        host.thin_sizes[meta.device_id] = meta.size or 0
        host.device_dir(meta.device_id)
    records = {}
    journal = Journal()
    for record in journal.records():
        records[record.mount_id] = record
    for c in state.containers:
        if c.device is None or c.device.device_id is None:
            continue
        thin = c.device.device_id
        directory = host.device_dir(thin)
        record = records.get(c.mount_id or "")
        left = os.path.join(record.mountpoint, "rootfs") if record else ""
        if record and record.state == "mounted" and os.path.isdir(left):
            # Left mounted by an earlier demo ("l" at quit): the simulated kernel keeps it.
            dev = host.add_device(record.device_name, "thin", f"x {thin}", record.size_sectors())
            dev.mounts.append(record.mountpoint)
            dev.open_count = 1
            host.mount_points[record.mountpoint] = thin
            continue
        if record:
            journal.delete(record.mount_id)  # the simulated kernel forgot the rest
        leftover = os.path.join(host.base, "run", "mnt", c.mount_id or "")
        if not os.path.isdir(directory) and os.path.isdir(os.path.join(leftover, "rootfs")):
            os.rename(leftover, directory)
        if c.state == "running":
            name = f"{prefix}-{c.mount_id}"
            dev = host.add_device(name, "thin", f"x {thin}", (c.device.size or 0) // 512)
            dev.mounts.append(os.path.join(root, "devicemapper", "mnt", c.mount_id or ""))
            dev.open_count = 1
