"""`dmtui` command line: a thin face over the backend, like the TUI.

Exit status: 0 success, 1 refused or failed (one line on stderr starting `dmtui: `),
2 usage error. No traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import os
import sys

from dmtui import __version__
from dmtui.core.errors import DmtuiError


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On subparsers the defaults are SUPPRESSed so a value given before the subcommand
    # is not overwritten by the subparser's default.
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--docker-root", metavar="DIR", default=default, help="Docker's root (default: detected)"
    )
    parser.add_argument(
        "--pool", metavar="NAME", default=default, help="thin pool name (default: detected)"
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="refuse everything that writes",
    )
    parser.add_argument("--version", action="version", version=f"dmtui {__version__}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmtui",
        description="Recover Docker containers on the devicemapper storage driver.",
    )
    _global_options(parser, top=True)
    parser.add_argument("--interval", type=float, default=2.0, help="pool refresh seconds (TUI)")
    parser.add_argument("--no-mouse", action="store_true", help="TUI without mouse tracking")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _global_options(p, top=False)
        return p

    p = add("status", "show containers, the thin pool, dm devices and problems")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("mount", "activate and mount a stopped container's thin device")
    p.add_argument("container", help="name, id or unique id prefix (4+ characters)")
    p.add_argument("--rw", action="store_true", help="mount read-write (default read-only)")
    p.add_argument("--at", metavar="DIR", help="mount point (default /run/dmtui/mnt/<mount-id>)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")

    p = add("umount", "unmount and deactivate what dmtui mounted")
    p.add_argument("container")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")

    p = add("trim", "give the blocks of deleted files back to the thin pool (fstrim)")
    p.add_argument("container")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")

    p = add("du", "disk usage of a directory, largest first (one filesystem)")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.add_argument("--apparent", action="store_true", help="sort by apparent size")
    p.add_argument("--top", type=int, metavar="N", help="keep the N largest children")
    p.add_argument("--export", metavar="FILE", help="write ncdu's JSON export format")

    p = add("demo", "the TUI on a simulated devicemapper host")
    p.add_argument("--dir", metavar="DIR", help="keep the simulated host here")
    p.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
    p.add_argument("--no-mouse", action="store_true", help=argparse.SUPPRESS)
    return parser


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    if command == "status":
        from dmtui.cli.status_cmd import run_status

        return run_status(args)
    if command in ("mount", "umount", "trim"):
        from dmtui.cli.lifecycle_cmd import run_lifecycle

        return run_lifecycle(args)
    if command == "du":
        from dmtui.cli.du_cmd import run_du

        return run_du(args)
    if command == "demo":
        from dmtui.cli.tui_cmd import run_demo

        return run_demo(args)
    from dmtui.cli.tui_cmd import run_tui

    return run_tui(args)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except DmtuiError as exc:
        print(f"dmtui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dmtui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`dmtui status | head`); say nothing more.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 1
    except Exception as exc:
        print(
            f"dmtui: internal error: {type(exc).__name__}: {exc}; please report it "
            f"(set DMTUI_DEBUG=1 for details)",
            file=sys.stderr,
        )
        if os.environ.get("DMTUI_DEBUG"):
            raise
        return 1


def entry() -> None:
    """The console script: exit without tearing down big models object by object."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    entry()
