"""`dmtui du PATH`: the disk-usage engine from the command line."""

from __future__ import annotations

import argparse
import json
import sys

from dmtui.core.errors import DmtuiError
from dmtui.diskusage.model import sort_entries
from dmtui.diskusage.ncdu_export import write_export
from dmtui.diskusage.report import render_listing, tree_json
from dmtui.diskusage.scanner import ScanError, Scanner


def run_du(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 0:
        raise DmtuiError("--top must be 0 or more")
    try:
        root = Scanner(args.path).scan()
    except ScanError as exc:
        raise DmtuiError(str(exc), "give a directory") from None
    children = root.entries()
    sort_entries(children, "apparent" if args.apparent else "disk")
    if args.top is not None:
        children = children[: args.top]
    if args.export:
        try:
            with open(args.export, "wb") as fh:
                write_export(root, fh)
        except OSError as exc:
            raise DmtuiError(f"cannot write {args.export}: {exc.strerror}") from None
    if args.json:
        # ensure_ascii keeps undecodable bytes as \\udcXX escapes: os.fsencode() restores them.
        json.dump(tree_json(root, root.name, children), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_listing(root, root.name, children, args.apparent))
    return 0
