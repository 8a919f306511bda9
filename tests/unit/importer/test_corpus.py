"""Every file of the ugly-CSV corpus is read as expected, without a database: encoding, delimiter, header,
how many rows are valid, and names without mojibake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gardenos.errors import BadRequest
from gardenos.importer.mapping import resolve
from gardenos.importer.reader import CsvSource
from gardenos.importer.rows import STAGE, Options, RowBuilder, RowError
from tests.unit.importer.corpus import DATA, corpus

EXPECTED: dict[str, dict[str, Any]] = json.loads((DATA / "expected.json").read_text())


def read(path: Path) -> tuple[CsvSource, Any, list[str], list[tuple[int, str]]]:
    source = CsvSource(path, max_bytes=1 << 30)
    columns = resolve(source.sample)
    builder = RowBuilder(columns, Options("US", day_first=False, encoding=source.format.encoding))
    staged, errors = [], []
    records = source.records()
    if columns.has_header:
        next(records)
    for line, cells in records:
        try:
            row = builder.build(line, cells)
        except RowError as exc:
            errors.append((line, exc.reason))
            continue
        if row is not None:
            staged.append(row)
    return source, columns, staged, errors


def test_the_files_are_what_the_generator_makes() -> None:
    made = corpus()
    assert set(EXPECTED) == set(made)
    for name, (content, outcome) in made.items():
        assert (DATA / name).read_bytes() == content, (
            f"regenerate: python -m tests.unit.importer.corpus ({name})"
        )
        assert EXPECTED[name] == outcome


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" not in e))
def test_readable_files(name: str) -> None:
    expected = EXPECTED[name]
    source, columns, staged, errors = read(DATA / name)
    assert source.format.describe() == {"encoding": expected["encoding"], "delimiter": expected["delimiter"]}
    assert columns.has_header is expected["header"]
    assert len(staged) + len(errors) == expected["total"]
    assert len(errors) == expected["invalid"], errors
    text = "".join(staged)
    for key in ("name", "company"):
        if key in expected:
            assert expected[key].replace(" ", "\t" if key == "name" else " ") in text
    if "lines" in expected:
        assert [int(row.split("\t")[0]) for row in staged] == expected["lines"]
    assert "\ufffd" not in text  # no mojibake
    assert "Ã" not in text


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" in e))
def test_unreadable_files_say_why(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read(DATA / name)
    assert EXPECTED[name]["error"] in caught.value.message
    assert caught.value.status_code in (400, 422)


def test_dirty_rows_have_reasons_a_person_can_act_on() -> None:
    _, _, _, errors = read(DATA / "dirty.csv")
    reasons = dict(errors)
    assert "more than one @" in reasons[3]
    assert "'hot' is not a lead status" in reasons[4]
    assert "not a date" in reasons[5]
    assert 6 not in reasons  # a valid email with a phone that is no number: imported, with a warning
    assert "7 fields but the header has 6" in reasons[8]


def test_undecodable_bytes_fail_their_row_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    # UTF-8 throughout the sample the encoding is detected on; one Windows-1252 row far below it.
    good = "".join(f"Zoë,N{i},z{i}@example.com\n" for i in range(20000)).encode()
    path.write_bytes(HEADER_UTF8 + good + b"Bj\xf6rn,Berg,bjorn@example.com\n")
    source, _, staged, errors = read(path)
    assert source.format.encoding == "utf-8"
    assert len(staged) == 20000
    assert len(errors) == 1
    assert "not valid utf-8" in errors[0][1]


HEADER_UTF8 = b"first name,last name,email\n"


def test_a_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 1000**3)
    with pytest.raises(BadRequest) as caught:
        CsvSource(path, max_bytes=1 << 30)
    assert "2.0 GB" in caught.value.message
    assert "GARDENOS_IMPORT_MAX_BYTES" in (caught.value.hint or "")


def test_an_unclosed_quote_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_bytes(b'name,email\n"Ann,ann@example.com\n' + b"x" * (1 << 21) + b"\n")
    with pytest.raises(BadRequest) as caught:
        read(path)
    assert "line 2" in caught.value.message


def test_an_unreadable_phone_is_kept_as_written_with_a_warning_when_the_row_has_more() -> None:
    columns = resolve([["first_name", "email", "phone"], ["Ann", "ann@example.com", "+1 555"]])
    builder = RowBuilder(columns, Options("US", day_first=False))
    staged = builder.build(2, ["Ann", "ann@example.com", "+1 555"])
    assert staged is not None
    assert "\t+1 555\t" in staged
    [warning] = builder.warnings
    assert (warning.line, warning.column, warning.value) == (2, "phone", "+1 555")
    assert "not a phone number" in warning.reason
    with pytest.raises(RowError, match="not a phone number"):
        builder.build(3, ["", "", "+1 555"])  # nothing else to know the person by


def test_a_staged_row_has_the_stage_columns_in_their_order() -> None:
    header = ["first_name", "email", "phone", "city", "source"]
    values = ["Ann", "Ann@Example.com", "+44 20 7946 0958", "Leeds", "fair"]
    builder = RowBuilder(resolve([header, values]), Options("GB", day_first=False))
    staged = builder.build(2, values)
    assert staged is not None
    row = dict(zip(STAGE, staged.rstrip("\n").split("\t"), strict=True))
    assert (row["line"], row["first_name"], row["city"], row["source"]) == ("2", "Ann", "Leeds", "fair")
    assert (row["email"], row["email_key"]) == ("Ann@example.com", "ann@example.com")
    assert row["phone"] == "+442079460958"
    assert row["phone_keys"].startswith("{")
    assert row["phone_raw"] == ""
