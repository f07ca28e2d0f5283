"""The disk-usage engine on real trees: sizes against GNU du, deletion that cannot escape."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
from helpers import assert_no_traceback, run_cli

from dmtui.diskusage.deleter import Deleter, ReadOnlyError, Target
from dmtui.diskusage.model import DELETED, ERROR, ERROR_BELOW, OTHER_FS, sort_entries
from dmtui.diskusage.scanner import ScanCancelled, Scanner

HOSTILE = ["new\nline", "[red]x", "[bold]b[\\bold]", "\x1b[2Jclear", "bad\udcffname", "sp ace"]


def du(path, *flags: str) -> int:
    out = subprocess.run(["du", "-sx", *flags, str(path)], capture_output=True, check=False)
    return int(out.stdout.split()[0])


def du_all(path) -> tuple[int, int, int]:
    return du(path, "-B1"), du(path, "-b"), du(path, "--inodes")


def build_tree(root) -> None:
    """Hard links, sparse files, symlinks of every kind, a FIFO, empty dirs, hostile names."""
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "a" / "data.bin").write_bytes(os.urandom(300_000))
    (root / "a" / "b" / "small").write_text("x")
    with open(root / "sparse.img", "wb") as fh:
        fh.truncate(50 << 20)
        fh.write(b"start")
    os.link(root / "a" / "data.bin", root / "a" / "b" / "c" / "hardlink.bin")
    os.link(root / "a" / "data.bin", root / "hl-top")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("../..", root / "a" / "b" / "up-link")
    os.symlink("a", root / "dir-link")
    os.symlink("loop", root / "loop")
    os.symlink("/nonexistent", root / "dangling")
    os.mkfifo(root / "fifo")
    for name in HOSTILE:
        (root / "a" / os.fsencode(name).decode("utf-8", "surrogateescape")).write_bytes(b"h" * 5000)
    for i in range(50):
        (root / "many" / f"d{i % 5}").mkdir(parents=True, exist_ok=True)
        (root / "many" / f"d{i % 5}" / f"f{i}").write_bytes(b"z" * (i * 100))


def tree_digest(root, skip: set[str] = frozenset()) -> dict[str, str]:
    """A checksum of every entry's content and identity, not following links."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if any(rel == s or rel.startswith(s + "/") for s in skip):
                continue
            st = os.lstat(path)
            if os.path.islink(path):
                result[rel] = "link:" + os.readlink(path)
            elif os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    result[rel] = hashlib.sha256(fh.read()).hexdigest()
            else:
                result[rel] = f"{st.st_mode}:{st.st_ino}"
    return result


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    build_tree(root)
    return root


@pytest.mark.parametrize("workers", [1, 16])
def test_totals_equal_gnu_du(tree, workers):
    node = Scanner(str(tree), workers=workers).scan()
    assert (node.disk, node.apparent, node.items) == du_all(tree)


def test_children_equal_du_on_each_child(tree):
    node = Scanner(str(tree)).scan()
    entries = {e.name: e for e in node.entries()}
    for name in ("many", "empty", "sparse.img", "abs-link", "fifo"):
        e = entries[name]
        assert (e.disk, e.apparent, e.items) == du_all(tree / name), name
    # `a` shares data.bin's inode with `hl-top`, met first: counted there, not in `a`.
    st = os.lstat(tree / "hl-top")
    a = entries["a"]
    disk, apparent, items = du_all(tree / "a")
    assert (a.disk, a.apparent, a.items) == (
        disk - st.st_blocks * 512,
        apparent - st.st_size,
        items - 1,
    )
    # the sparse file: apparent 50 MiB, almost nothing on disk
    assert entries["sparse.img"].apparent > 50_000_000 > entries["sparse.img"].disk
    # hard links: the three names share one inode, counted once in the total
    assert sum(e.disk for e in entries.values()) == node.disk - node.own_disk


def test_du_cli_json_contract(tree):
    result = run_cli("du", str(tree), "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert (data["disk_bytes"], data["apparent_bytes"], data["items"]) == du_all(tree)
    disks = [c["disk_bytes"] for c in data["children"]]
    assert disks == sorted(disks, reverse=True)
    types = {c["name"]: c["type"] for c in data["children"]}
    assert types["a"] == "dir" and types["abs-link"] == "symlink"
    assert types["fifo"] == "other" and types["sparse.img"] == "file"
    top = run_cli("du", str(tree), "--json", "--apparent", "--top", "2").json
    # data.bin's inode is counted once, at hl-top (met first), so hl-top outranks a/
    assert [c["name"] for c in top["children"]] == ["sparse.img", "hl-top"]
    names = run_cli("du", str(tree / "a"), "--json").json["children"]
    raw = {os.fsencode(c["name"]) for c in names}
    for name in HOSTILE:
        assert (
            os.fsencode(name.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape"))
            in raw
        )


def test_du_human_output_is_safe_and_fits(tree):
    result = run_cli("du", str(tree / "a"))
    assert result.returncode == 0
    assert_no_traceback(result)
    assert "\x1b" not in result.stdout
    assert "[red]x" in result.stdout
    assert "new\\x0aline" in result.stdout and "bad\\xffname" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_du_errors_are_one_line(tmp_path):
    for args in (["du", str(tmp_path / "missing")], ["du", "/etc/passwd"]):
        result = run_cli(*args)
        assert result.returncode == 1
        assert result.stderr.startswith("dmtui: ") and result.stderr.count("\n") == 1
    assert run_cli("du").returncode == 2


def test_ncdu_reads_the_export(tree, tmp_path):
    if shutil.which("ncdu") is None:
        pytest.skip("ncdu not installed")
    export = tmp_path / "export.json"
    assert run_cli("du", str(tree), "--export", str(export)).returncode == 0
    raw = export.read_bytes()
    assert b'"bad\xffname"' in raw  # raw bytes, as ncdu writes them
    again = tmp_path / "again.json"
    proc = subprocess.run(["ncdu", "-f", str(export), "-o", str(again)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    # ncdu re-exports what it read: the same names and sizes come back.
    assert b'"bad\xffname"' in again.read_bytes()
    for name in (b'"sparse.img"', b'"hardlink.bin"', b'"fifo"'):
        assert name in again.read_bytes()


def _scan_as_nobody(path: str) -> tuple[int, int, bool, bool]:
    """Scan in a forked child that dropped root, so permissions apply."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            node = Scanner(path).scan()
            b = child(node, "b")
            os.write(
                write_fd,
                json.dumps(
                    [node.items, b.items, bool(b.flags & ERROR), bool(node.flags & ERROR_BELOW)]
                ).encode(),
            )
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd) as fh:
        return tuple(json.load(fh))


@pytest.mark.root
def test_unreadable_directory_is_an_error_not_a_stop():
    base = pathlib.Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's tmp is closed to others
    try:
        os.chmod(base, 0o755)
        build_tree(base)
        (base / "b").mkdir()
        (base / "b" / "hidden").write_text("secret")
        os.chmod(base / "b", 0)
        items, b_items, b_error, error_below = _scan_as_nobody(str(base))
        assert b_error and error_below
        assert b_items == 1  # its own inode only
        assert items > 60  # the rest of the tree was scanned
    finally:
        os.chmod(base / "b", 0o755)
        shutil.rmtree(base)


@pytest.mark.root
def test_mount_point_inside_is_zero_and_marked(tree):
    mnt = tree / "a" / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "inside").write_bytes(b"q" * 100_000)
        node = Scanner(str(tree)).scan()
        assert (node.disk, node.apparent, node.items) == du_all(tree)
        a = next(e for e in node.entries() if e.name == "a").node
        m = next(e for e in a.entries() if e.name == "mnt")
        assert m.flags & OTHER_FS and (m.disk, m.apparent, m.items) == (0, 0, 0)
        data = run_cli("du", str(tree / "a"), "--json").json
        (child,) = [c for c in data["children"] if c["name"] == "mnt"]
        assert child["other_filesystem"] is True and child["disk_bytes"] == 0
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_progress_and_cancel(tree):
    seen = []
    Scanner(str(tree), on_progress=seen.append).scan()
    assert seen and seen[-1].done and seen[-1].entries > 50
    scanner = Scanner(str(tree))
    scanner.cancel()
    with pytest.raises(ScanCancelled):
        scanner.scan()


# -- deleter ---------------------------------------------------------------------------


def targets(node, *names: str, contents_only: bool = False) -> list[Target]:
    by_name = {e.name: e for e in node.entries()}
    return [Target.of(node, by_name[n], contents_only) for n in names]


def child(node, name):
    return next(e for e in node.entries() if e.name == name).node


def test_delete_files_dirs_and_several_at_once(tree):
    before = tree_digest(tree)
    node = Scanner(str(tree)).scan()
    total = node.disk
    a = child(node, "a")
    many = child(node, "many")
    report = Deleter().delete(
        targets(node, "sparse.img", "abs-link", "fifo", "many") + targets(a, "data.bin")
    )
    assert report.failures == [] and not report.stopped
    after = tree_digest(tree)
    gone = {"sparse.img", "abs-link", "fifo", "many", "a/data.bin"}
    assert set(before) - set(after) == {
        k for k in before if any(k == g or k.startswith(g + "/") for g in gone)
    }
    assert {k: before[k] for k in after} == after  # nothing else changed
    assert os.path.exists("/etc/passwd")
    # totals corrected without a rescan, and equal to a fresh du
    assert (node.disk, node.apparent, node.items) == du_all(tree)
    assert many.flags & DELETED and node.disk < total
    assert report.freed_disk == total - node.disk


def test_empty_directory_but_keep_it(tree):
    node = Scanner(str(tree)).scan()
    report = Deleter().delete(targets(node, "many", contents_only=True))
    assert report.failures == []
    assert os.listdir(tree / "many") == []
    assert (node.disk, node.apparent, node.items) == du_all(tree)
    entries = {e.name: e for e in node.entries()}
    assert entries["many"].items == 1


def test_symlinked_directory_is_deleted_as_a_link_not_followed(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    os.symlink(str(outside), tree / "to-outside")
    node = Scanner(str(tree)).scan()
    Deleter().delete(targets(node, "to-outside", "a"))
    assert (outside / "precious").read_text() == "keep"
    assert not os.path.lexists(tree / "to-outside")
    assert os.path.exists("/etc/passwd")  # a/b/up-link and abs-link were never followed


def test_directory_swapped_for_symlink_after_scan_is_refused(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    node = Scanner(str(tree)).scan()
    chosen = targets(child(node, "a"), "b")  # a/b, scanned as a directory
    shutil.rmtree(tree / "a" / "b")
    os.symlink(str(outside), tree / "a" / "b")
    failures = []
    report = Deleter(on_failure=lambda f: failures.append(f) or "skip").delete(chosen)
    assert (outside / "precious").read_text() == "keep"
    assert len(report.failures) == 1 and "changed" in report.failures[0].reason
    assert failures


def test_parent_swapped_for_symlink_is_refused(tree, tmp_path):
    outside = tmp_path / "outside"
    (outside / "b").mkdir(parents=True)
    (outside / "b" / "small").write_text("keep")
    node = Scanner(str(tree)).scan()
    chosen = targets(child(child(node, "a"), "b"), "small")
    os.rename(tree / "a", tmp_path / "a-moved")
    os.symlink(str(outside), tree / "a")
    report = Deleter(on_failure=lambda f: "skip").delete(chosen)
    assert (outside / "b" / "small").read_text() == "keep"
    assert report.failures and report.failures[0].reason.startswith("changed since the scan")


def test_directory_replaced_by_another_with_the_same_name(tree):
    node = Scanner(str(tree)).scan()
    chosen = targets(node, "empty")
    os.rename(tree / "empty", tree / "old-empty")  # kept, so the new one gets a new inode
    (tree / "empty").mkdir()
    (tree / "empty" / "new-file").write_text("new")
    report = Deleter(on_failure=lambda f: "skip").delete(chosen)
    assert (tree / "empty" / "new-file").read_text() == "new"
    assert "changed" in report.failures[0].reason


def test_failure_choices_abort_skip_skip_all(tree):
    node = Scanner(str(tree)).scan()
    chosen = targets(node, "sparse.img", "fifo", "hl-top")
    for t in chosen:
        os.remove(tree / t.name)  # every target has vanished
    asked = []
    report = Deleter(on_failure=lambda f: asked.append(f.path) or "skip_all").delete(chosen)
    assert len(report.failures) == 3 and len(asked) == 1  # skip all such failures
    (tree / "first").write_text("1")
    (tree / "second").write_text("2")
    node = Scanner(str(tree)).scan()
    os.remove(tree / "first")
    report = Deleter(on_failure=lambda f: "abort").delete(targets(node, "first", "second"))
    assert report.stopped and len(report.failures) == 1
    assert (tree / "second").read_text() == "2"  # aborted before the second target


def test_stop_on_request(tree):
    node = Scanner(str(tree)).scan()
    deleter = Deleter()
    deleter.stop()
    report = deleter.delete(targets(node, "many"))
    assert report.stopped and os.path.exists(tree / "many")


def test_read_only_mode_deletes_nothing(tree):
    node = Scanner(str(tree)).scan()
    before = tree_digest(tree)
    with pytest.raises(ReadOnlyError):
        Deleter(read_only=True).delete(targets(node, "a"))
    assert tree_digest(tree) == before


@pytest.mark.root
def test_bind_mount_inside_is_never_crossed(tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    (tree / "a" / "bound").mkdir()
    # A bind mount of a tmpfs-backed directory: another device, so never entered.
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(outside)], check=True)
    (outside / "precious").write_text("keep")
    subprocess.run(["mount", "--bind", str(outside), str(tree / "a" / "bound")], check=True)
    try:
        node = Scanner(str(tree)).scan()
        report = Deleter(on_failure=lambda f: "skip").delete(targets(node, "a"))
        assert (outside / "precious").read_text() == "keep"
        assert any("mount point" in str(f.error) or f.error.errno == 16 for f in report.failures)
        assert os.path.isdir(tree / "a" / "bound")
        # partly deleted: the totals were measured again, and match du
        assert (node.disk, node.apparent, node.items) == du_all(tree)
    finally:
        subprocess.run(["umount", str(tree / "a" / "bound")], check=False)
        subprocess.run(["umount", str(outside)], check=False)


@pytest.mark.root
def test_read_only_filesystem_reports_each_failure(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "f1").write_text("1")
        (mnt / "d").mkdir()
        (mnt / "d" / "f2").write_text("2")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        node = Scanner(str(mnt)).scan()
        seen = []
        report = Deleter(on_failure=lambda f: seen.append(f.reason) or "skip").delete(
            targets(node, "f1", "d")
        )
        assert "read-only filesystem" in seen
        assert len(report.failures) >= 2
        assert sorted(os.listdir(mnt)) == ["d", "f1"]
        assert (node.disk, node.items) == (du(mnt, "-B1"), du(mnt, "--inodes"))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_sorting(tree):
    node = Scanner(str(tree)).scan()
    entries = node.entries()
    sort_entries(entries, "name")
    assert [e.name for e in entries] == sorted(e.name for e in entries)
    sort_entries(entries, "items")
    assert entries[0].name == "many"
