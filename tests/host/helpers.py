"""Helpers for host tests: build Docker roots in Docker's format and run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

from dmtui.demo.docker_layout import DockerLayout

MIB = 1 << 20


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    """Run `python -m dmtui ...` for real, as an operator would."""
    proc = subprocess.run(
        [sys.executable, "-m", "dmtui", *args],
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return CliResult(
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )


def standard_root(root: str) -> tuple[DockerLayout, dict]:
    """A small consistent host: base, two image layers, three containers."""
    layout = DockerLayout(root)
    layout.init_driver()
    debian = layout.add_image_layer("debian")
    app = layout.add_image_layer("app", debian)
    recs = {
        "kubesql-server": layout.add_container(
            "kubesql-server", "kubesql:2.1", app, state="exited", exit_code=137
        ),
        "web": layout.add_container(
            "web", "nginx:1.19", debian, state="running", pid=os.getpid(), restart_policy="always"
        ),
        "gone": layout.add_container("gone", "busybox", debian, state="exited"),
    }
    layout.mark_deleted(recs["gone"].mount_id)
    return layout, recs


def assert_no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout
