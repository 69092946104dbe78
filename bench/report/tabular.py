"""The one table model every report output is rendered from: titled columns, rows of raw cells, notes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

NOT_RUN = "not run"
EMPTY = "—"


@dataclass(frozen=True)
class Stat:
    """A metric over seeds: mean, sample std and count (std 0 and n 1 for a single run)."""

    mean: float
    std: float = 0.0
    n: int = 1


Cell = str | int | float | Stat | None


@dataclass(frozen=True)
class Column:
    """A column: its header (units belong in it, e.g. `p50 ms`), number format and alignment."""

    name: str
    fmt: str = ""  # format spec for numbers, e.g. ".4f"; "" uses str()
    align: str = "right"  # "left" | "right"
    wrap: bool | None = None  # may a terminal wrap its cells? None: text (left) wraps, figures (right) never
    key: bool = False  # names the row (model, runtime, batch): labels a note printed under a narrow table
    short: tuple[tuple[str, str], ...] = ()  # (value, abbreviation) a narrow terminal shows, with a legend
    unit: str = ""  # printed after each figure in text formats ("1.27×"); CSV and JSON keep the bare number

    @property
    def no_wrap(self) -> bool:
        """True for figures and identifiers: a terminal keeps each cell on one line, whole."""
        return not self.wrap if self.wrap is not None else self.align != "left"


@dataclass(frozen=True)
class Row:
    """One row of cells (as many as columns) and an optional note: why a cell is missing, what to run."""

    cells: tuple[Cell, ...]
    note: str = ""
    style: str = ""  # a Rich style for terminals ("red" for a failed row); the text formats ignore it


@dataclass(frozen=True)
class TableData:
    """A titled table; renderers add a `note` column when any row has a note."""

    key: str  # stable identifier, e.g. "cora.synthesis" (JSON key, CSV comment, file names)
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())  # lines printed under the table
    sections: bool = False  # terminals draw a rule where the first cell changes (one block per model)

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.cells) != len(self.columns):
                raise ValueError(f"{self.key}: a row has {len(row.cells)} cells, "
                                 f"{len(self.columns)} columns")

    @property
    def has_notes(self) -> bool:
        return any(row.note for row in self.rows)

    def header(self) -> list[str]:
        """Column names, with `note` last when any row has one."""
        return [c.name for c in self.columns] + (["note"] if self.has_notes else [])

    def text_rows(self) -> list[list[str]]:
        """Every row as display strings (numbers formatted, None as '—'), note last when present."""
        out = []
        for row in self.rows:
            cells = [cell_text(cell, col.fmt, col.unit) for cell, col in zip(row.cells, self.columns,
                                                                             strict=True)]
            out.append(cells + ([row.note] if self.has_notes else []))
        return out


def cell_text(cell: Cell, fmt: str = "", unit: str = "") -> str:
    """A cell as text: '0.8030', '0.8030 ± 0.0040' over several seeds, '—' for None; `unit` follows each
    figure ('1.27×')."""
    if cell is None:
        return EMPTY
    if isinstance(cell, Stat):
        text = _number(cell.mean, fmt) + unit
        return f"{text} ± {_number(cell.std, fmt)}{unit}" if cell.n > 1 else text
    if isinstance(cell, (bool, str)):
        return str(cell)
    return _number(cell, fmt) + unit


def csv_text(cell: Cell, fmt: str = "") -> str:
    """A cell for CSV: numbers as plain figures a CSV reader parses (no thousands separators, fractions
    for percent formats), '' for None, text as it is; a Stat of several seeds stays 'mean ± std' text."""
    if cell is None:
        return ""
    if isinstance(cell, Stat):
        return csv_text(cell.mean, fmt) if cell.n <= 1 else cell_text(cell, fmt)
    if isinstance(cell, (bool, str)):
        return str(cell)
    if isinstance(cell, int):
        return str(cell)
    plain = fmt.replace(",", "").replace("_", "")
    if plain.endswith("%") or not math.isfinite(cell):  # '12.5%' is text to a reader: write 0.125
        return repr(cell)
    return format(cell, plain) if plain else repr(cell)


def cell_value(cell: Cell) -> object:
    """A cell as a JSON value: numbers stay numbers, a Stat becomes {mean, std, n}; NaN and infinities,
    which JSON cannot hold, become the strings 'nan', 'inf', '-inf'."""
    if isinstance(cell, Stat):
        return {"mean": _finite(cell.mean), "std": _finite(cell.std), "n": cell.n}
    return _finite(cell) if isinstance(cell, float) else cell


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _number(value: float, fmt: str) -> str:
    return format(value, fmt) if fmt else str(value)
