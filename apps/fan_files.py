"""Reading fan files one record at a time: NDJSON (one `POST /v1/fans` body a line) and CSV
(a header naming the same fields). Every record knows the byte offset just after it, so an
import can say how far it got and a re-run can seek there."""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from relay.db.models import ConsentPurpose

# One fan is a few hundred bytes: a line longer than this is refused, never read whole.
MAX_LINE_BYTES = 64 * 1024
PROFILE_COLUMNS = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "locale",
    "country",
    "time_zone",
    "interests",
)
CONSENT_COLUMNS = tuple(
    f"consents.{purpose.value}.{key}" for purpose in ConsentPurpose for key in ("granted", "source")
)
# Interests share one CSV cell.
INTEREST_SEPARATOR = "|"


class FileRefused(Exception):
    """The file cannot be imported at all (its header, its format): nothing was written."""


@dataclass(frozen=True)
class Record:
    number: int  # 1 for the first fan of the file
    end: int  # byte offset just after it
    fields: dict[str, Any] | None  # None when it could not be read
    problem: str | None = None  # why it could not be read
    text: str = ""  # what it said, for the rejected-rows file, when it could not be read


def _lines(file: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """Each line and the offset after it; None for a line over the limit (skipped whole)."""
    while line := file.readline(MAX_LINE_BYTES + 1):
        if len(line) <= MAX_LINE_BYTES:
            yield line, file.tell()
            continue
        while line and not line.endswith(b"\n"):
            line = file.readline(MAX_LINE_BYTES + 1)
        yield None, file.tell()


def _too_long(number: int, end: int) -> Record:
    return Record(number, end, None, f"the line is over {MAX_LINE_BYTES} bytes")


def ndjson_records(file: BinaryIO, first_number: int) -> Iterator[Record]:
    number = first_number
    for line, end in _lines(file):
        if line is not None and not line.strip():
            continue
        if line is None:
            yield _too_long(number, end)
        else:
            yield _ndjson_record(number, end, line)
        number += 1


def _ndjson_record(number: int, end: int, line: bytes) -> Record:
    text = line.decode("utf-8", errors="replace").strip()
    try:
        fields = json.loads(line)
    except ValueError as error:
        return Record(number, end, None, f"not a JSON object ({error})", text)
    if not isinstance(fields, dict):
        return Record(number, end, None, "not a JSON object", text)
    return Record(number, end, fields)


def csv_header(file: BinaryIO) -> list[str]:
    """The header's columns, checked; the file is left just after the header."""
    first = next(_lines(file), (b"", 0))[0]
    if not first:
        raise FileRefused("the CSV file has no header line (or it is too long)")
    columns = next(csv.reader([first.decode("utf-8-sig", errors="replace")]), [])
    unknown = [c for c in columns if c not in PROFILE_COLUMNS + CONSENT_COLUMNS]
    if unknown or "external_id" not in columns or len(set(columns)) != len(columns):
        raise FileRefused(
            f"the CSV header must name external_id and each column once; unknown: "
            f"{', '.join(unknown) or 'none'}; known: {', '.join(PROFILE_COLUMNS + CONSENT_COLUMNS)}"
        )
    return columns


class _CsvLines:
    """Decoded lines for the csv module, remembering the offset and any trouble on the way
    (a record may span lines, inside quotes)."""

    def __init__(self, file: BinaryIO) -> None:
        self._lines = _lines(file)
        self.end = file.tell()
        self.problem: str | None = None

    def __iter__(self) -> Iterator[str]:
        for line, end in self._lines:
            self.end = end
            if line is None:
                self.problem = f"a line is over {MAX_LINE_BYTES} bytes"
                yield "\n"
                continue
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                self.problem = "the line is not UTF-8"
                yield "\n"


def csv_records(file: BinaryIO, columns: list[str], first_number: int) -> Iterator[Record]:
    lines = _CsvLines(file)
    number = first_number
    reader = csv.reader(lines, strict=True)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            lines.problem = f"not valid CSV ({error})"
            values = ["?"]
        if not values:
            continue  # a blank line
        problem, lines.problem = lines.problem, None
        if problem is None and len(values) != len(columns):
            problem = f"{len(values)} values for {len(columns)} columns"
        if problem is not None:
            yield Record(number, lines.end, None, problem, ",".join(values)[:1000])
        else:
            yield Record(number, lines.end, _csv_fields(columns, values))
        number += 1


def _csv_fields(columns: list[str], values: list[str]) -> dict[str, Any]:
    """A CSV row as the JSON body it stands for; an empty cell is a field not given."""
    fields: dict[str, Any] = {}
    for column, value in zip(columns, values, strict=True):
        if value == "":
            continue
        if column == "interests":
            fields[column] = value.split(INTEREST_SEPARATOR)
        elif column.startswith("consents."):
            _, purpose, key = column.split(".")
            fields.setdefault("consents", {}).setdefault(purpose, {})[key] = value
        else:
            fields[column] = value
    return fields
