"""Parsers for the text the kernel's dm-thin targets report through `dmsetup`.

Pure functions over strings, so they are tested on real kernel output. The thin-pool status
is parsed the way libdm's `parse_thin_pool_status` does: the five leading numbers by position,
then the flags by name, because older kernels emit fewer trailing fields.
"""

from __future__ import annotations

from dataclasses import dataclass

METADATA_BLOCK_BYTES = 4096  # dm-thin metadata blocks are always 4 KiB
SECTOR_BYTES = 512


class ParseError(ValueError):
    """A dm table or status line that does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class TargetLine:
    """One line of `dmsetup table` or `dmsetup status`: `[name: ]start length target params`."""

    name: str | None
    start: int
    length: int
    target: str
    params: str


def parse_target_line(line: str, *, named: bool = False) -> TargetLine:
    """Split one table/status line. With `named`, a leading `<name>: ` is expected."""
    name = None
    text = line.rstrip("\n")
    if named:
        name, sep, text = text.partition(": ")
        if not sep:
            raise ParseError(f"no device name in {line!r}")
    parts = text.strip().split(None, 3)
    if len(parts) < 3:
        raise ParseError(f"too few fields in {line!r}")
    try:
        start, length = int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise ParseError(f"bad start/length in {line!r}") from exc
    return TargetLine(name, start, length, parts[2], parts[3] if len(parts) > 3 else "")


def parse_named_lines(output: str) -> dict[str, list[TargetLine]]:
    """Parse `dmsetup table` / `dmsetup status` for all devices (`name: ...` per line).

    A device without targets prints `name: ` followed by nothing; it maps to an empty list.
    """
    result: dict[str, list[TargetLine]] = {}
    for raw in output.splitlines():
        if not raw.strip() or raw.startswith("No devices found"):
            continue
        name, sep, rest = raw.partition(": ")
        if not sep:
            if raw.endswith(":"):
                result.setdefault(raw[:-1], [])
                continue
            raise ParseError(f"no device name in {raw!r}")
        if not rest.strip():
            result.setdefault(name, [])
            continue
        entry = parse_target_line(rest)
        result.setdefault(name, []).append(
            TargetLine(name, entry.start, entry.length, entry.target, entry.params)
        )
    return result


@dataclass(frozen=True, slots=True)
class ThinPoolTable:
    """`thin-pool <metadata dev> <data dev> <block sectors> <low water blocks> [features]`."""

    length_sectors: int
    metadata_dev: str
    data_dev: str
    data_block_sectors: int
    low_water_blocks: int
    features: tuple[str, ...]

    @property
    def data_block_bytes(self) -> int:
        return self.data_block_sectors * SECTOR_BYTES


def parse_thin_pool_table(line: TargetLine) -> ThinPoolTable:
    if line.target != "thin-pool":
        raise ParseError(f"target is {line.target!r}, not thin-pool")
    fields = line.params.split()
    if len(fields) < 4:
        raise ParseError(f"thin-pool table too short: {line.params!r}")
    try:
        block = int(fields[2])
        low_water = int(fields[3])
    except ValueError as exc:
        raise ParseError(f"bad thin-pool table: {line.params!r}") from exc
    if block <= 0:
        raise ParseError(f"bad data block size {block}")
    features: tuple[str, ...] = ()
    if len(fields) > 4:
        try:
            count = int(fields[4])
        except ValueError as exc:
            raise ParseError(f"bad feature count in {line.params!r}") from exc
        features = tuple(fields[5 : 5 + count])
    return ThinPoolTable(line.length, fields[0], fields[1], block, low_water, features)


@dataclass(frozen=True, slots=True)
class ThinPoolStatus:
    """The thin-pool status line. Numbers are None when the pool reports `Fail` or `Error`."""

    mode: str  # rw | ro | out_of_data_space | fail | error
    transaction_id: int | None = None
    metadata_used_blocks: int | None = None
    metadata_total_blocks: int | None = None
    data_used_blocks: int | None = None
    data_total_blocks: int | None = None
    held_metadata_root: int | None = None
    discard: str | None = None  # discard_passdown | no_discard_passdown | ignore_discard
    no_space_policy: str | None = None  # queue_if_no_space | error_if_no_space
    needs_check: bool = False
    metadata_low_watermark: int | None = None


def parse_thin_pool_status(params: str) -> ThinPoolStatus:
    """Parse the params of a thin-pool status line (everything after `thin-pool`)."""
    text = params.strip()
    # libdm checks these whole-status values first.
    if text.startswith("Error"):
        return ThinPoolStatus(mode="error")
    if text.startswith("Fail"):
        return ThinPoolStatus(mode="fail")
    fields = text.split()
    if len(fields) < 3:
        raise ParseError(f"thin-pool status too short: {params!r}")
    try:
        transaction_id = int(fields[0])
        meta_used, meta_total = (int(x) for x in fields[1].split("/"))
        data_used, data_total = (int(x) for x in fields[2].split("/"))
    except ValueError as exc:
        raise ParseError(f"bad thin-pool status numbers: {params!r}") from exc
    rest = fields[3:]
    held: int | None = None
    if rest and rest[0] != "-":
        try:
            held = int(rest[0])
        except ValueError:
            held = None
    flags = set(rest[1:])
    if "out_of_data_space" in flags:
        mode = "out_of_data_space"
    elif "ro" in flags:
        mode = "ro"
    else:
        mode = "rw"
    discard = next(
        (f for f in ("ignore_discard", "no_discard_passdown", "discard_passdown") if f in flags),
        None,
    )
    policy = next((f for f in ("error_if_no_space", "queue_if_no_space") if f in flags), None)
    watermark: int | None = None
    # The low watermark is the 9th field, after needs_check|-; absent on older kernels.
    if len(rest) >= 6:
        try:
            watermark = int(rest[5])
        except ValueError:
            watermark = None
    return ThinPoolStatus(
        mode=mode,
        transaction_id=transaction_id,
        metadata_used_blocks=meta_used,
        metadata_total_blocks=meta_total,
        data_used_blocks=data_used,
        data_total_blocks=data_total,
        held_metadata_root=held,
        discard=discard,
        no_space_policy=policy,
        needs_check="needs_check" in flags,
        metadata_low_watermark=watermark,
    )


@dataclass(frozen=True, slots=True)
class ThinTable:
    """`thin <pool dev> <dev id> [<external origin>]`; the pool is `maj:min` or a path."""

    length_sectors: int
    pool_dev: str
    device_id: int
    external_origin: str | None


def parse_thin_table(line: TargetLine) -> ThinTable:
    if line.target != "thin":
        raise ParseError(f"target is {line.target!r}, not thin")
    fields = line.params.split()
    if len(fields) < 2:
        raise ParseError(f"thin table too short: {line.params!r}")
    try:
        device_id = int(fields[1])
    except ValueError as exc:
        raise ParseError(f"bad thin device id: {line.params!r}") from exc
    return ThinTable(line.length, fields[0], device_id, fields[2] if len(fields) > 2 else None)


@dataclass(frozen=True, slots=True)
class ThinStatus:
    """`<mapped sectors> <highest mapped sector|->`, or `Fail`, or `-` (no thin handle)."""

    failed: bool
    mapped_sectors: int | None
    highest_mapped_sector: int | None


def parse_thin_status(params: str) -> ThinStatus:
    text = params.strip()
    if text.startswith("Fail"):
        return ThinStatus(True, None, None)
    fields = text.split()
    if not fields or fields[0] == "-":
        return ThinStatus(False, None, None)
    try:
        mapped = int(fields[0])
    except ValueError as exc:
        raise ParseError(f"bad thin status: {params!r}") from exc
    highest = None
    if len(fields) > 1 and fields[1] != "-":
        try:
            highest = int(fields[1])
        except ValueError:
            highest = None
    return ThinStatus(False, mapped, highest)


@dataclass(frozen=True, slots=True)
class DmInfo:
    """The parts of long `dmsetup info` output that matter: open count and deferred removal."""

    name: str
    major: int
    minor: int
    open_count: int
    deferred_remove: bool
    suspended: bool
    read_only: bool


def parse_dmsetup_info(output: str) -> list[DmInfo]:
    """Parse long `dmsetup info` output (blocks separated by blank lines)."""
    infos: list[DmInfo] = []
    block: dict[str, str] = {}

    def flush() -> None:
        if "Name" in block:
            state = block.get("State", "")
            major = minor = -1
            if "Major, minor" in block:
                a, _, b = block["Major, minor"].partition(",")
                major, minor = int(a.strip()), int(b.strip())
            infos.append(
                DmInfo(
                    name=block["Name"],
                    major=major,
                    minor=minor,
                    open_count=int(block.get("Open count", "0") or 0),
                    deferred_remove="DEFERRED REMOVE" in state,
                    suspended="SUSPENDED" in state,
                    read_only="READ-ONLY" in state,
                )
            )
        block.clear()

    for raw in output.splitlines():
        if not raw.strip():
            flush()
            continue
        key, sep, value = raw.partition(":")
        if sep:
            block[key.strip()] = value.strip()
    flush()
    return infos
