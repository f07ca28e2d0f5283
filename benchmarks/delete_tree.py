"""Delete a whole tree the way the TUI does: scan it, then delete its entries with the Deleter."""

from __future__ import annotations

import os
import sys

from dmtui.diskusage.deleter import Deleter, Target
from dmtui.diskusage.scanner import Scanner


def main(path: str) -> int:
    root = Scanner(path).scan()
    report = Deleter().delete([Target.of(root, e) for e in root.entries()])
    os.rmdir(path)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
