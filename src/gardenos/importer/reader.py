"""Reading a spreadsheet export as it comes: its encoding, delimiter and quoting, then its records one at a
time with the line each starts on. Nothing holds more than a sample of the file in memory."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import charset_normalizer

from gardenos.errors import BadRequest

SAMPLE_BYTES = 256 * 1024
DELIMITERS = (",", ";", "\t", "|")
# A field this long is a broken quote swallowing the rest of the file, not a value.
FIELD_LIMIT = 1 << 20
# Single-byte encodings that Excel's "CSV" writes in Western Europe and America; when the bytes read the
# same in Windows-1252, that is what they are.
WESTERN = "cp1252"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

csv.field_size_limit(FIELD_LIMIT)


class ImportFileError(BadRequest):
    """The file as a whole cannot be imported (empty, binary, too large, unreadable)."""

    status_code = 422
    code = "GARDEN422"


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    quotechar: str

    def describe(self) -> dict[str, str]:
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
        return {"encoding": self.encoding, "delimiter": names.get(self.delimiter, self.delimiter)}


def human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError


def check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImportFileError("the file is empty: there is nothing to import")
    if size > max_bytes:
        raise ImportFileError(
            f"the file is {human_size(size)}, more than the {human_size(max_bytes)} an import takes",
            hint="split it into smaller files, or raise GARDENOS_IMPORT_MAX_BYTES",
        )


def detect_encoding(sample: bytes) -> str:
    """The sample's encoding: a BOM first, then strict UTF-8, then charset-normalizer's best guess."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text:
            return "utf-8"
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        raise ImportFileError(
            "the file is not text (a binary file, or an encoding that cannot be recognised)",
            hint="export the spreadsheet as CSV (UTF-8) and import that file",
        )
    encoding = str(best.encoding)
    if "\x00" in str(best):
        raise ImportFileError(
            "the file is not text: it contains NUL bytes", hint="export the spreadsheet as CSV (UTF-8)"
        )
    # Single-byte code pages often read equally well (cp1250 and cp1252 tie on German text, and then
    # "Crème" would come out as "Crčme"): on a tie, Windows-1252 is what spreadsheets write.
    for match in matches:
        tied = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.05
        if tied and WESTERN in match.could_be_from_charset:
            return WESTERN
    return encoding


def sniff_format(text: str, encoding: str) -> CsvFormat:
    """Delimiter and quote character from a sample: csv.Sniffer's guess, checked against how regularly
    each candidate splits the sample's records (Sniffer is fooled by delimiters inside quoted values)."""
    quotechar = '"'
    guess = None
    try:
        sniffed = csv.Sniffer().sniff(text[:65536], delimiters="".join(DELIMITERS))
        guess, quotechar = sniffed.delimiter, sniffed.quotechar or '"'
    except csv.Error:
        pass
    if quotechar not in ('"', "'"):
        quotechar = '"'
    scores = {d: _regularity(text, d, quotechar) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (scores[d], d == guess, -DELIMITERS.index(d)))
    if scores[best] == (0.0, 0) and guess is None:
        best = ","  # one column: any delimiter reads it the same
    return CsvFormat(encoding, best, quotechar)


def _regularity(text: str, delimiter: str, quotechar: str) -> tuple[float, int]:
    """(share of records with the most common field count, that count): 0 when it splits nothing."""
    try:
        records = list(islice(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar), 200))
    except csv.Error:
        return (0.0, 0)
    if len(records) > 1:
        records = records[:-1]  # the sample may end inside the last record
    counts = [len(r) for r in records if any(cell.strip() for cell in r)]
    if not counts:
        return (0.0, 0)
    width, seen = Counter(counts).most_common(1)[0]
    if width < 2:
        return (0.0, 0)
    return (round(seen / len(counts), 2), width)


class CsvSource:
    """An open CSV file: its format, a sample of its first records, and its records one by one."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.size = path.stat().st_size
        check_size(self.size, max_bytes)
        with path.open("rb") as raw:
            sample = raw.read(SAMPLE_BYTES)
        encoding = detect_encoding(sample)
        text = sample.decode(encoding, errors="replace")
        if len(sample) == SAMPLE_BYTES:
            text = text[: text.rfind("\n") + 1] or text
        if not text.strip().strip("\ufeff"):
            raise ImportFileError("the file holds only blank space: there is nothing to import")
        self.format = sniff_format(text, encoding)
        self.sample = [cells for _, cells in islice(self._parse(io.StringIO(text)), 101)]
        if len(sample) == SAMPLE_BYTES and len(self.sample) > 1:
            self.sample.pop()
        self._binary: BinaryIO | None = None

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line the record starts on, its cells) for every record of the file, header included."""
        with self.path.open("rb") as binary:
            self._binary = binary
            # Bytes that are not valid in the detected encoding become lone surrogates: the row holding
            # them is refused with a reason instead of the whole file failing, or worse, mojibake.
            text = io.TextIOWrapper(
                binary, encoding=self.format.encoding, errors="surrogateescape", newline=""
            )
            yield from self._parse(text)

    def position(self) -> int:
        """Bytes read so far (for progress)."""
        try:
            return self._binary.tell() if self._binary is not None else 0
        except (ValueError, OSError):
            return self.size

    def _parse(self, text: io.TextIOBase | io.StringIO) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(text, delimiter=self.format.delimiter, quotechar=self.format.quotechar)
        line = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(
                    f"line {line}: the file cannot be read as CSV from here on ({exc})",
                    hint="a quoted value is probably not closed: check the quotes on that line",
                ) from exc
            yield line, cells
            line = reader.line_num + 1
