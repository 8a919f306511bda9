"""The ugly-CSV corpus: real-world export shapes, each with its expected outcome.

`python -m tests.unit.importer.corpus` writes the files to tests/data/csv/ with `expected.json`; the tests
read them from there and check that they are what this generator makes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parents[2] / "data" / "csv"
ZOE = "Zoë Müller-Łukasiewicz"

HEADER = "First Name,Last Name,Email,Phone,Company\r\n"
ROWS = (
    "Zoë,Müller-Łukasiewicz,zoe@example.de,+49 30 1234567,Łódź Sp. z o.o.\r\n"
    "JOHN,MCDONALD,John.McDonald@EXAMPLE.COM,(212) 555-0123,ACME\r\n"
    "Anna,van der Berg,anna@example.nl,+31 20 123 4567,\r\n"
)
WESTERN = (
    "Vorname;Nachname;E-Mail;Telefon;Firma\r\n"
    "Zoë;Müller;zoe.mueller@example.de;030 1234567;Bäckerei Größe\r\n"
    "René;Côté;rene@example.fr;+33 1 23 45 67 89;Crème & Brûlée\r\n"
)


def corpus() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """name -> (bytes, expected). Expected: encoding, delimiter, header, total, invalid; or `error`."""
    ok = {"delimiter": "comma", "header": True, "total": 3, "invalid": 0, "name": ZOE}
    files: dict[str, tuple[bytes, dict[str, Any]]] = {
        "utf8.csv": ((HEADER + ROWS).encode(), ok | {"encoding": "utf-8"}),
        "utf8_bom.csv": ((HEADER + ROWS).encode("utf-8-sig"), ok | {"encoding": "utf-8-sig"}),
        "utf16.csv": ((HEADER + ROWS).encode("utf-16"), ok | {"encoding": "utf-16"}),
        "cp1252_semicolon.csv": (
            WESTERN.encode("cp1252"),
            {"encoding": "cp1252", "delimiter": "semicolon", "header": True, "total": 2, "invalid": 0,
             "name": "Müller", "company": "Crème & Brûlée"},
        ),
        "tabs.tsv": (
            (HEADER + ROWS).replace(",", "\t").encode(),
            ok | {"encoding": "utf-8", "delimiter": "tab"},
        ),
        "pipes.csv": (
            (HEADER + ROWS).replace(",", "|").encode(),
            ok | {"encoding": "utf-8", "delimiter": "pipe"},
        ),
        "quoted_newlines.csv": (
            (
                b'Name,Email,Notes\n'
                b'"Smith, Jane",jane@example.com,"first line\nsecond line, with ""quotes"""\n'
                b'"O\'Brien, Pat",pat@example.com,plain\n'
                b'Lee Chen,lee@example.com,"a;b|c\tTab"\n'
            ),
            {"encoding": "utf-8", "delimiter": "comma", "header": True, "total": 3, "invalid": 0,
             "lines": [2, 4, 5]},
        ),
        "headerless.csv": (
            (
                b"Ann,Smith,ann@example.com,+1 212 555 0100\n"
                b"Bob,Jones,bob@example.com,+1 212 555 0101\n"
                b"Cy,Young,cy@example.com,+1 212 555 0102\n"
            ),
            {"encoding": "utf-8", "delimiter": "comma", "header": False, "total": 3, "invalid": 0},
        ),
        "all_invalid.csv": (
            (
                b"Email,Phone\n"
                b"not-an-email,\n"
                b"also@bad,12\n"
                b",abc\n"
            ),
            {"encoding": "utf-8", "delimiter": "comma", "header": True, "total": 3, "invalid": 3},
        ),
        "dirty.csv": (
            (
                b"first_name,last_name,email,phone,status,created\n"
                b"Ok,Person,ok@example.com,+1 212 555 0199,qualified,2024-03-12\n"
                b"Bad,Email,bad@@example.com,,,\n"
                b"Bad,Status,st@example.com,,hot,\n"
                b"Bad,Date,dt@example.com,,,31.02.2024\n"
                b"Bad,Phone,ph@example.com,+1 555,,\n"
                b",,,,,\n"
                b"Too,Many,tm@example.com,,,,extra\n"
                b"Dup,Person,OK@example.com,,,\n"
            ),
            {"encoding": "utf-8", "delimiter": "comma", "header": True, "total": 7, "invalid": 4,
             "duplicate": 1},
        ),
        "empty.csv": (b"", {"error": "empty"}),
        "blank.csv": (b"\r\n  \r\n", {"error": "blank"}),
        "binary.csv": (bytes(range(256)) * 64, {"error": "not text"}),
        "no_identity_columns.csv": (b"Foo,Bar\n1,2\n3,4\n", {"error": "no column holds a name"}),
    }  # fmt: skip
    return files


def write() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (content, outcome) in corpus().items():
        (DATA / name).write_bytes(content)
        expected[name] = outcome
    (DATA / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
