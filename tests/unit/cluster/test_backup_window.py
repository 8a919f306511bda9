"""The archive's unbroken run and which base backups reach it (no processes here)."""

from __future__ import annotations

from gardenos.backup.archiving import segment_number
from gardenos.backup.window import lsn_segment, segment_index, unbroken_from, usable


def test_segment_names_and_lsns_map_to_one_order() -> None:
    assert segment_number("00000002.history") is None
    assert segment_number("000000030000000100000002.partial") == "0000000100000002"
    assert segment_index("0000000100000002") == 258
    assert lsn_segment("1/2000028") == 258
    assert lsn_segment("0/3000000") == 3


def test_a_hole_in_the_archive_cuts_off_the_backups_before_it() -> None:
    names = [
        "000000010000000000000002",
        "000000010000000000000003",
        # 4 is missing: a hole
        "000000010000000000000005",
        "000000010000000000000006.partial",
        "00000002.history",
        "000000020000000000000006",
        "000000020000000000000007",
    ]
    first = unbroken_from(names)
    assert first == 5
    assert not usable(2, first)  # its own WAL ends in 2: replay would need 3, 4, …
    assert usable(4, first)
    assert usable(None, first)  # a backup from before the end point was recorded
    assert unbroken_from([]) is None


def test_the_archivers_last_file_counts_only_at_or_after_the_segment() -> None:
    from gardenos.backup.archiving import _at_or_after

    segment = "000000020000000000000005"
    assert _at_or_after(segment, segment)
    assert _at_or_after("000000020000000000000006", segment)
    assert _at_or_after("000000030000000000000005.partial", segment)
    # The old timeline's last segment, archived by a standby that followed the promotion.
    assert not _at_or_after("000000010000000000000009", segment)
    # A backup history file named after the segment is written before the segment is done.
    assert not _at_or_after("000000020000000000000005.00000028.backup", segment)
    assert not _at_or_after("00000002.history", segment)
