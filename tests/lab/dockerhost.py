"""Build, for real, what a Docker 17.x-20.10 host on loop-lvm leaves behind.

Runs as root on a kernel with device-mapper (inside the test VM). It plays Docker's part:
sparse `data`/`metadata` files in `<root>/devicemapper/devicemapper/`, loop devices, the pool
`<prefix>-pool` with Docker's table, a base device with a filesystem, image layers and
containers as snapshots (init device first, then the RW device), the pool transaction id
advanced once per create, and Docker's JSON files (via dmtui.demo.docker_layout).

By hand:  python -m lab.dockerhost build /dev/shm/host --scenario seed
          python -m lab.dockerhost teardown /dev/shm/host
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from dmtui.core.dockerconfig import device_prefix_for
from dmtui.demo.docker_layout import ContainerRecord, DockerLayout, Layer

MIB = 1 << 20
BLOCK_SECTORS = 128  # Docker's default 64 KiB pool block
LOW_WATER = 32768  # hard-coded by Docker


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def dm_kernel_name(name: str) -> str:
    for entry in os.listdir("/sys/block"):
        if entry.startswith("dm-"):
            try:
                with open(f"/sys/block/{entry}/dm/name") as fh:
                    if fh.read().strip() == name:
                        return entry
            except OSError:
                continue
    raise RuntimeError(f"no dm device named {name}")


def dm_dev(name: str) -> str:
    return "/dev/" + dm_kernel_name(name)


@dataclass
class DockerHost:
    """A built host; everything a test needs to find its parts."""

    base_dir: str
    root: str
    prefix: str
    pool: str
    pool_dev: str  # maj:min
    loops: list[str]
    filesystem: str
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)  # scenario processes to kill later
    layout: DockerLayout | None = None

    def device_name(self, hash_: str) -> str:
        return f"{self.prefix}-{hash_}"

    def to_json(self) -> dict:
        return {
            "base_dir": self.base_dir,
            "root": self.root,
            "prefix": self.prefix,
            "pool": self.pool,
            "pool_dev": self.pool_dev,
            "loops": self.loops,
            "filesystem": self.filesystem,
            "containers": {k: vars(v) for k, v in self.containers.items()},
            "pids": self.pids,
        }


class HostBuilder:
    """Docker's operations against a real pool, in Docker's order."""

    def __init__(
        self,
        base_dir: str,
        *,
        filesystem: str = "xfs",
        data_mib: int = 1024,
        meta_mib: int = 64,
        base_mib: int = 320,
    ) -> None:
        self.base_dir = base_dir
        self.root = os.path.join(base_dir, "docker")
        self.filesystem = filesystem
        self.data_mib, self.meta_mib, self.base_mib = data_mib, meta_mib, base_mib
        self.layout = DockerLayout(self.root, on_create=self._kernel_create)
        self.tx = 0

    # -- the pool --------------------------------------------------------------------------

    def create_pool(self) -> DockerHost:
        os.makedirs(self.root, exist_ok=True)
        loopdir = os.path.join(self.root, "devicemapper", "devicemapper")
        os.makedirs(loopdir, exist_ok=True)
        os.chmod(os.path.join(self.root, "devicemapper"), 0o700)
        data, meta = os.path.join(loopdir, "data"), os.path.join(loopdir, "metadata")
        for path, mib in ((data, self.data_mib), (meta, self.meta_mib)):
            with open(path, "wb") as fh:
                fh.truncate(mib * MIB)  # sparse, as Docker's ensureImage
            os.chmod(path, 0o600)
        loop_data = sh("losetup", "-f", "--show", data).stdout.strip()
        loop_meta = sh("losetup", "-f", "--show", meta).stdout.strip()
        self.prefix = device_prefix_for(os.path.join(self.root, "devicemapper"))
        self.pool = f"{self.prefix}-pool"
        sectors = self.data_mib * MIB // 512
        # Docker creates the pool with udev rules disabled, so libdm makes /dev/mapper/<pool>
        # itself; without udevd we ask libdm to do the same.
        sh(
            "dmsetup",
            "create",
            self.pool,
            "--table",
            f"0 {sectors} thin-pool {loop_meta} {loop_data} {BLOCK_SECTORS} {LOW_WATER} 1 "
            "skip_block_zeroing",
            env=no_udev_env(),
        )
        info = sh("dmsetup", "info", "-c", "--noheadings", "-o", "major,minor", self.pool)
        self.pool_dev = ":".join(x.strip() for x in info.stdout.strip().split(":"))
        self.host = DockerHost(
            self.base_dir,
            self.root,
            self.prefix,
            self.pool,
            self.pool_dev,
            [loop_data, loop_meta],
            self.filesystem,
            layout=self.layout,
        )
        return self.host

    def _message(self, text: str) -> None:
        sh("dmsetup", "message", self.pool, "0", text)

    def _kernel_create(
        self, hash_: str, device_id: int, origin: int | None, size: int, tx: int
    ) -> None:
        if origin is None:
            self._message(f"create_thin {device_id}")
        else:
            self._message(f"create_snap {device_id} {origin}")
        self._message(f"set_transaction_id {self.tx} {tx}")
        self.tx = tx

    # -- devices ---------------------------------------------------------------------------

    def activate(self, hash_: str, device_id: int, size: int) -> str:
        name = f"{self.prefix}-{hash_ or 'base'}"
        sh(
            "dmsetup",
            "create",
            name,
            "--table",
            f"0 {size // 512} thin /dev/mapper/{self.pool} {device_id}",
        )
        return name

    def deactivate(self, name: str) -> None:
        for _ in range(50):
            if sh("dmsetup", "remove", name, check=False).returncode == 0:
                return
            time.sleep(0.1)
        sh("dmsetup", "remove", name)

    def mount_opts(self) -> list[str]:
        return ["-o", "nouuid"] if self.filesystem == "xfs" else []

    def with_mounted(self, hash_: str, device_id: int, size: int, fill) -> None:
        """Activate, mount, let `fill(mountpoint)` write, unmount, deactivate (Docker's Get/Put)."""
        name = self.activate(hash_, device_id, size)
        mnt = os.path.join(self.base_dir, "build-mnt")
        os.makedirs(mnt, exist_ok=True)
        sh("mount", *self.mount_opts(), dm_dev(name), mnt)
        try:
            if not os.path.exists(os.path.join(mnt, "id")):
                with open(os.path.join(mnt, "id"), "w") as fh:
                    fh.write(hash_)
                os.chmod(os.path.join(mnt, "id"), 0o600)
            os.makedirs(os.path.join(mnt, "rootfs"), mode=0o755, exist_ok=True)
            fill(os.path.join(mnt, "rootfs"))
            os.sync()
        finally:
            sh("umount", mnt)
            self.deactivate(name)

    def init_base(self) -> None:
        size = self.base_mib * MIB
        base_id = self.layout.init_driver(self.filesystem, size)
        name = self.activate("", base_id, size)
        if self.filesystem == "xfs":
            sh("mkfs.xfs", "-q", "-f", dm_dev(name))
        else:
            sh(
                "mkfs.ext4",
                "-q",
                "-F",
                "-E",
                "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
                dm_dev(name),
            )
        self.deactivate(name)

    def image(self, seed: str, parent: Layer | None, files: dict[str, bytes]) -> Layer:
        layer = self.layout.add_image_layer(seed, parent)
        size = self.layout.sizes[layer.device_id]
        self.with_mounted(layer.cache_id, layer.device_id, size, lambda r: write_files(r, files))
        return layer

    def container(
        self, name: str, image: str, top: Layer, fill=None, init_files: bool = True, **kw
    ) -> ContainerRecord:
        rec = self.layout.add_container(name, image, top, **kw)
        init_content = {
            ".dockerenv": b"",
            "etc/hosts": b"127.0.0.1 localhost\n",
            "etc/hostname": rec.id[:12].encode() + b"\n",
            "etc/resolv.conf": b"nameserver 10.0.0.2\n",
        }
        if init_files:  # Docker's init layer files (skipped where no test looks at them)
            self.with_mounted(
                rec.mount_id + "-init",
                rec.init_device_id,
                rec.size,
                lambda r: write_files(r, init_content),
            )
        if fill is not None:
            self.with_mounted(rec.mount_id, rec.device_id, rec.size, fill)
        self.host.containers[name] = rec
        return rec


def _udevd_running() -> bool:
    return os.path.exists("/run/udev/control")


def no_udev_env() -> dict[str, str] | None:
    return None if _udevd_running() else dict(os.environ, DM_DISABLE_UDEV="1")


def write_files(root: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def write_big(path: str, mib: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    chunk = os.urandom(MIB)
    with open(path, "wb") as fh:
        for _ in range(mib):
            fh.write(chunk)


def fill_filesystem(path: str) -> None:
    """Extend `path` until the filesystem has no space left (the seed incident)."""
    st = os.statvfs(os.path.dirname(path))
    free = st.f_bavail * st.f_frsize
    with open(path, "ab") as fh:
        try:
            os.posix_fallocate(fh.fileno(), os.fstat(fh.fileno()).st_size, max(free - MIB, MIB))
        except OSError:
            pass
        chunk = b"\0" * MIB
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError:
            pass


BASE_FILES = {
    "etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "bin/sh": b"\x7fELF placeholder\n",
    "usr/lib/libc.so.6": os.urandom(256 * 1024),
}
APP_FILES = {
    "opt/kubesql/bin/kubesql": os.urandom(512 * 1024),
    "etc/kubesql/kubesql.conf": b"data_dir=/var/lib/kubesql\n",
}


def start_sleeper(tag: str) -> int:
    proc = subprocess.Popen(
        ["sleep", "infinity"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=dict(os.environ, DMTUI_LAB=tag),
    )
    return proc.pid


def build_seed(base_dir: str, filesystem: str = "xfs", *, minimal: bool = False) -> DockerHost:
    """The seed incident plus its neighbours on one pool.

    full       exited (137), rootfs full, largest item /var/log/kubesql/kubesql.log
    web        running: device active and mounted at <root>/devicemapper/mnt/<mid>, live pid
    gone       device marked deleted
    leaky      exited, but its device is mounted in another mount namespace (unshare -m)
               and Docker's removal is deferred
    idle       exited cleanly, restart policy always
    """
    b = HostBuilder(base_dir, filesystem=filesystem)
    host = b.create_pool()
    b.init_base()
    debian = b.image("debian", None, BASE_FILES)
    app = b.image("kubesql", debian, APP_FILES)

    def fill_full(rootfs: str) -> None:
        write_big(os.path.join(rootfs, "var/log/kubesql/kubesql.log"), 48)
        write_files(rootfs, {"var/lib/kubesql/state.db": os.urandom(2 * MIB)})
        os.sync()
        fill_filesystem(os.path.join(rootfs, "var/log/kubesql/kubesql.log"))

    b.container(
        "kubesql-server",
        "kubesql:2.1",
        app,
        fill=fill_full,
        state="exited",
        exit_code=137,
        error="mkdir /var/lib/docker/devicemapper/mnt/x/rootfs/.pivot_root"
        "123: no space left on device",
    )
    web_pid = start_sleeper("web")
    web = b.container(
        "web",
        "nginx:1.19",
        debian,
        state="running",
        pid=web_pid,
        restart_policy="always",
        fill=lambda r: write_files(r, {"usr/share/nginx/index.html": b"hi\n"}),
    )
    host.pids["web"] = web_pid
    # Docker's Get: active and mounted under <home>/mnt/<mount-id>.
    name = b.activate(web.mount_id, web.device_id, web.size)
    mnt = os.path.join(b.root, "devicemapper", "mnt", web.mount_id)
    os.makedirs(mnt, exist_ok=True)
    sh("mount", *b.mount_opts(), dm_dev(name), mnt)

    if minimal:  # the seed incident and a running neighbour only
        save(host)
        return host
    gone = b.container("gone", "busybox:latest", debian, state="exited", init_files=False)
    b.layout.mark_deleted(gone.mount_id)

    leaky = b.container(
        "leaky",
        "redis:6",
        debian,
        state="exited",
        exit_code=0,
        init_files=False,
        fill=lambda r: write_files(r, {"data/dump.rdb": os.urandom(MIB)}),
    )
    name = b.activate(leaky.mount_id, leaky.device_id, leaky.size)
    host.pids["leaky-ns"] = leak_mount(dm_dev(name), b.mount_opts(), base_dir)
    sh("dmsetup", "remove", "--deferred", name)

    b.container(
        "idle",
        "alpine:3.18",
        debian,
        state="exited",
        restart_policy="always",
        init_files=False,
        fill=lambda r: write_files(r, {"tmp/cache.bin": os.urandom(4 * MIB)}),
    )
    save(host)
    return host


def build_tight(base_dir: str) -> DockerHost:
    """A small ext4 pool filled past Docker's 10% minimum free space."""
    b = HostBuilder(base_dir, filesystem="ext4", data_mib=192, meta_mib=16, base_mib=256)
    host = b.create_pool()
    b.init_base()
    debian = b.image("debian", None, BASE_FILES)

    def fill(rootfs: str) -> None:
        # Write until the pool is just past Docker's 10% minimum free space, not full: a full
        # pool queues IO for 60 s (queue_if_no_space) and then turns out_of_data_space.
        path = os.path.join(rootfs, "var/cache/blob")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            while pool_used_fraction(b.pool) < 0.93:
                for _ in range(4):
                    fh.write(b"\1" * MIB)
                fh.flush()
                os.fsync(fh.fileno())

    b.container("hog", "builder:1", debian, fill=fill, state="exited")
    save(host)
    return host


def leak_mount(device: str, opts: list[str], base_dir: str) -> int:
    """Mount `device` inside a new private mount namespace held open by a sleeping process."""
    target = os.path.join(base_dir, "leak-mnt")
    os.makedirs(target, exist_ok=True)
    script = f"mount {' '.join(opts)} {device} {target} && echo ok && exec sleep infinity"
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if line.strip() != "ok":
        raise RuntimeError("leaked mount failed")
    return proc.pid


def pool_used_fraction(pool: str) -> float:
    fields = sh("dmsetup", "status", pool).stdout.split()
    used, total = (int(x) for x in fields[5].split("/"))
    return used / total


def save(host: DockerHost) -> None:
    with open(os.path.join(host.base_dir, "host.json"), "w") as fh:
        json.dump(host.to_json(), fh, indent=2)


def teardown(base_dir: str) -> None:
    """Undo everything a build made (and anything a test left) under `base_dir`."""
    try:
        with open(os.path.join(base_dir, "host.json")) as fh:
            info = json.load(fh)
    except OSError:
        info = {}
    for pid in (info.get("pids") or {}).values():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.1)
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for mp in reversed(points):
        if mp.startswith(base_dir) or mp.startswith("/run/dmtui/mnt"):
            sh("umount", mp, check=False)
    prefix = info.get("prefix")
    if prefix:
        names = sh("dmsetup", "ls", check=False).stdout.split("\n")
        for line in names:
            name = line.split("\t")[0].strip()
            if name.startswith(prefix) and not name.endswith("-pool"):
                sh("dmsetup", "remove", "--retry", name, check=False)
        sh("dmsetup", "remove", "--retry", f"{prefix}-pool", check=False, env=no_udev_env())
    for loop in info.get("loops") or []:
        sh("losetup", "-d", loop, check=False)
    sh("rm", "-rf", base_dir, check=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.dockerhost")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir")
    b.add_argument("--scenario", choices=["seed", "seed-ext4", "tight"], default="seed")
    t = sub.add_parser("teardown")
    t.add_argument("dir")
    args = p.parse_args(argv)
    if args.cmd == "build":
        if args.scenario == "tight":
            host = build_tight(args.dir)
        else:
            host = build_seed(args.dir, "ext4" if args.scenario == "seed-ext4" else "xfs")
        print(json.dumps(host.to_json(), indent=2))
    else:
        teardown(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
