"""Parsers on real kernel output (reference §3 and the realdm-vm measurements)."""

from __future__ import annotations

import pytest

from dmtui.core import dmparse

MODERN = (
    "0 209715200 thin-pool 5 179/524288 2110/1638400 - rw discard_passdown queue_if_no_space "
    "- 1024 "
)


def test_modern_status_line_with_trailing_space():
    line = dmparse.parse_target_line(MODERN)
    assert (line.start, line.length, line.target) == (0, 209715200, "thin-pool")
    s = dmparse.parse_thin_pool_status(line.params)
    assert s.transaction_id == 5
    assert (s.metadata_used_blocks, s.metadata_total_blocks) == (179, 524288)
    assert (s.data_used_blocks, s.data_total_blocks) == (2110, 1638400)
    assert s.held_metadata_root is None
    assert s.mode == "rw"
    assert s.discard == "discard_passdown"
    assert s.no_space_policy == "queue_if_no_space"
    assert s.needs_check is False
    assert s.metadata_low_watermark == 1024


@pytest.mark.parametrize(
    ("params", "mode", "needs_check", "policy", "discard", "held"),
    [
        (
            "13 1685/16384 2340/16384 - rw discard_passdown queue_if_no_space - 1024 ",
            "rw",
            False,
            "queue_if_no_space",
            "discard_passdown",
            None,
        ),
        (
            "4 440/4096 3072/3072 - out_of_data_space discard_passdown error_if_no_space - 1024",
            "out_of_data_space",
            False,
            "error_if_no_space",
            "discard_passdown",
            None,
        ),
        (
            "7 100/4096 50/3072 412 ro ignore_discard queue_if_no_space needs_check 1024",
            "ro",
            True,
            "queue_if_no_space",
            "ignore_discard",
            412,
        ),
        # older kernels: no needs_check / watermark, or no watermark
        (
            "3 10/4096 20/3072 - rw no_discard_passdown queue_if_no_space",
            "rw",
            False,
            "queue_if_no_space",
            "no_discard_passdown",
            None,
        ),
        (
            "3 10/4096 20/3072 - rw discard_passdown error_if_no_space needs_check",
            "rw",
            True,
            "error_if_no_space",
            "discard_passdown",
            None,
        ),
        # oldest form: numbers and held root only
        ("3 10/4096 20/3072 -", "rw", False, None, None, None),
    ],
)
def test_status_variants(params, mode, needs_check, policy, discard, held):
    s = dmparse.parse_thin_pool_status(params)
    assert s.mode == mode
    assert s.needs_check is needs_check
    assert s.no_space_policy == policy
    assert s.discard == discard
    assert s.held_metadata_root == held


def test_older_kernel_has_no_watermark():
    s = dmparse.parse_thin_pool_status("3 10/4096 20/3072 - rw discard_passdown queue_if_no_space")
    assert s.metadata_low_watermark is None
    assert s.data_used_blocks == 20


@pytest.mark.parametrize(
    ("params", "mode"), [("Fail", "fail"), ("Error", "error"), ("Fail ", "fail")]
)
def test_fail_and_error(params, mode):
    s = dmparse.parse_thin_pool_status(params)
    assert s.mode == mode
    assert s.data_used_blocks is None and s.transaction_id is None


@pytest.mark.parametrize("bad", ["", "x y z", "5 179 2110/1638400 - rw", "5 a/b c/d"])
def test_garbage_status_raises_parse_error(bad):
    with pytest.raises(dmparse.ParseError):
        dmparse.parse_thin_pool_status(bad)


def test_pool_table_docker_loop_lvm():
    line = dmparse.parse_target_line("0 209715200 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing")
    t = dmparse.parse_thin_pool_table(line)
    assert (t.metadata_dev, t.data_dev) == ("7:1", "7:0")
    assert t.data_block_sectors == 128 and t.data_block_bytes == 65536
    assert t.low_water_blocks == 32768
    assert t.features == ("skip_block_zeroing",)


def test_pool_table_lvm_and_no_features():
    t = dmparse.parse_thin_pool_table(
        dmparse.parse_target_line("0 3883008 thin-pool 253:0 253:1 1024 758 1 skip_block_zeroing")
    )
    assert t.data_block_bytes == 512 * 1024
    t2 = dmparse.parse_thin_pool_table(dmparse.parse_target_line("0 100 thin-pool 7:1 7:0 128 10"))
    assert t2.features == ()


def test_thin_table_and_status():
    t = dmparse.parse_thin_table(dmparse.parse_target_line("0 20971520 thin 253:2 5"))
    assert (t.pool_dev, t.device_id, t.length_sectors) == ("253:2", 5, 20971520)
    assert dmparse.parse_thin_status("173440 2097151").mapped_sectors == 173440
    unmapped = dmparse.parse_thin_status("0 -")
    assert unmapped.mapped_sectors == 0 and unmapped.highest_mapped_sector is None
    assert dmparse.parse_thin_status("Fail").failed
    assert dmparse.parse_thin_status("-").mapped_sectors is None


def test_named_lines_from_dmsetup_table():
    out = (
        "docker-0:29-4-abc: 0 655360 thin 254:0 7\n"
        "docker-0:29-4-pool: 0 2097152 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing\n"
        "empty: \n"
    )
    lines = dmparse.parse_named_lines(out)
    assert lines["docker-0:29-4-abc"][0].params == "254:0 7"
    assert lines["docker-0:29-4-pool"][0].target == "thin-pool"
    assert lines["empty"] == []
    assert dmparse.parse_named_lines("No devices found\n") == {}


def test_dmsetup_info_long_form():
    out = """Name:              docker-0:29-4-341f
State:             ACTIVE (DEFERRED REMOVE)
Read Ahead:        256
Tables present:    LIVE
Open count:        1
Event number:      0
Major, minor:      254, 2
Number of targets: 1

Name:              docker-0:29-4-pool
State:             ACTIVE
Read Ahead:        256
Tables present:    LIVE
Open count:        2
Event number:      0
Major, minor:      254, 0
Number of targets: 1
"""
    infos = dmparse.parse_dmsetup_info(out)
    assert [(i.name, i.major, i.minor, i.open_count, i.deferred_remove) for i in infos] == [
        ("docker-0:29-4-341f", 254, 2, 1, True),
        ("docker-0:29-4-pool", 254, 0, 2, False),
    ]
