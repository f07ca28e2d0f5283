"""Real-kernel fixtures: Docker hosts built for real by lab.dockerhost inside the VM."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from lab.dockerhost import DockerHost, build_seed, build_tight, teardown

pytestmark = pytest.mark.realdm


def _base(tag: str) -> str:
    return tempfile.mkdtemp(prefix=f"dmtui-{tag}-", dir="/dev/shm")


@pytest.fixture(scope="session")
def seed_host() -> DockerHost:
    base = _base("seed")
    host = build_seed(base, "xfs")
    yield host
    teardown(base)


@pytest.fixture(scope="session")
def ext4_host() -> DockerHost:
    base = _base("ext4")
    host = build_seed(base, "ext4", minimal=True)
    yield host
    teardown(base)


@pytest.fixture(scope="session")
def tight_host() -> DockerHost:
    base = _base("tight")
    host = build_tight(base)
    yield host
    teardown(base)


def dmtui(*args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dmtui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def udev_mode() -> str:
    return "udevd" if os.path.exists("/run/udev/control") else "no-udevd"
