"""Shared test setup.

Real-kernel tests are marked `realdm`; they run only inside the test VM (RUN_VM_GUEST=1),
where tests/vm/run-vm.sh boots Debian's kernel with device-mapper.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for `import lab.dockerhost`

IN_VM = os.environ.get("RUN_VM_GUEST") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_realdm = pytest.mark.skip(reason="needs the real-kernel VM (tests/run-all.sh runs it)")
    skip_root = pytest.mark.skip(reason="needs root")
    for item in items:
        if "realdm" in item.keywords and not IN_VM:
            item.add_marker(skip_realdm)
        if "root" in item.keywords and os.geteuid() != 0:
            item.add_marker(skip_root)
