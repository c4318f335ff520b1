"""Batches with a result per row: each row is validated on its own by the single-item request
model, so one bad row is reported with its index and field and the others still go in."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import Body
from pydantic import BaseModel, ValidationError

from api.problems import describe_error

M = TypeVar("M", bound=BaseModel)

# Ten thousand fans of a ticketing opening in one request, well inside the 8 MiB body limit.
MAX_BATCH_ROWS = 10_000


class RowError(BaseModel):
    field: str
    message: str


@dataclass
class Row(Generic[M]):
    """One row of a batch: its place, what it became once validated, what is wrong with it."""

    index: int
    request: M | None
    errors: list[RowError] = field(default_factory=list)

    def reject(self, field_name: str, message: str) -> None:
        self.errors.append(RowError(field=field_name, message=message))

    @property
    def valid(self) -> bool:
        return self.request is not None and not self.errors


def batch_body(single: str) -> Any:
    """The body of a batch route: a list of objects, each validated on its own (so the list
    itself only promises objects: a bad row is a row result, not a refused request)."""
    return Body(
        min_length=1,
        max_length=MAX_BATCH_ROWS,
        description=f"1 to {MAX_BATCH_ROWS:,} rows, each as `{single}` takes it, "
        "validated on its own",
    )


def validate_rows(model: type[M], rows: Sequence[dict[str, Any]]) -> list[Row[M]]:
    validated: list[Row[M]] = []
    for index, raw in enumerate(rows):
        try:
            validated.append(Row(index, model.model_validate(raw)))
        except ValidationError as error:
            found = [RowError(**describe_error(e)) for e in error.errors()]
            validated.append(Row(index, None, found))
    return validated


def first_seen_at(rows: Sequence[Row[M]], key: str) -> dict[int, int]:
    """For each valid row whose `key` an earlier valid row already gave: that row's index."""
    first: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for row in rows:
        if row.valid:
            value = getattr(row.request, key)
            if value in first:
                repeats[row.index] = first[value]
            else:
                first[value] = row.index
    return repeats
