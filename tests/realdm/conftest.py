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
    """Run the real `dmtui` CLI in its own process, as an operator would.

    The process is forked from the test runner instead of exec'ing a new Python: under
    emulation a fresh interpreter spends ~2 s importing, which would dominate the suite.
    It is still a separate process with its own pid, so SIGKILL and the journal's
    "writer is gone" detection behave exactly as for `dmtui` started from a shell.
    """
    from dmtui.cli.main import main

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # child: become `dmtui ARGS`
            code = 1
            try:
                os.environ.update(env or {})
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
                code = main(list(args))
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(
            ["dmtui", *args],
            rc,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def udev_mode() -> str:
    return "udevd" if os.path.exists("/run/udev/control") else "no-udevd"
