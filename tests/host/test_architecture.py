"""The backend stands without its UI: no module of it may import textual."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "dmtui"
BACKEND = ["core", "diskusage"]


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_backend_sources_never_import_textual_or_rich():
    offenders = []
    files = [f for pkg in BACKEND for f in (PACKAGE / pkg).rglob("*.py")]
    assert len(files) >= 5
    for f in files:
        for name in imported_modules(f):
            root = name.split(".")[0]
            if root in ("textual", "rich") or name.startswith("dmtui.tui"):
                offenders.append(f"{f.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_importing_the_backend_and_cli_loads_no_textual():
    modules = [
        f"dmtui.{pkg}.{f.stem}"
        for pkg in BACKEND
        for f in (PACKAGE / pkg).glob("*.py")
        if f.stem != "__init__"
    ] + ["dmtui.cli.main", "dmtui.cli.status_cmd"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual',))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
