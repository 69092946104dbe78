"""Four renderers of bench.report.tabular tables: Rich, GitHub markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from bench.errors import BenchError
from bench.report.tabular import TableData, cell_value, csv_text

FORMATS = ("rich", "markdown", "csv", "json")


def check_format(fmt: str) -> str:
    """`fmt` if it is one of FORMATS, else a BenchError naming them."""
    if fmt not in FORMATS:
        raise BenchError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


NOTE_MIN = 24  # a note column narrower than this stacks a sentence into a tower: notes go under the table
# Layouts, least dense first: boxed with full headers and values; unboxed (two spaces between columns) with
# abbreviations; the same with headers wrapped over their cells.
ROOMY, DENSE, DENSEST = 0, 1, 2


def to_rich(table: TableData, width: int | None = None, hint: str = "") -> RenderableType:
    """`table` for a terminal `width` columns wide (None: as wide as the table needs), its notes under it.

    Figures never wrap and are never cut: each right-aligned column is as wide as its longest cell. The
    least dense layout that fits `width` is used: boxed; else unboxed with columns' abbreviations (and a
    legend); else with headers wrapped too. Row notes take a wrapping column where it has room, else go
    under the table, each labelled by its row. A table that fits no layout says so, and the caller prints
    it uncropped (its lines run past the edge); `hint` names a narrower view or format for that note.
    Cells are plain text (never markup: notes quote commands with brackets)."""
    density, notes_inline = _layout(table, width)
    out, notes = _rich_table(table, density, notes_inline)
    if width is not None and not _fits(out, width):
        needed = _overflow_width(out)
        notes.append(f"this table needs {needed} columns and the terminal has {width}: its lines run past "
                     f"the edge rather than cut a figure ({hint or '--format markdown reads at any width'})")
    if not notes:
        return out
    return Group(out, Text("\n".join(notes), style="table.caption"))


def _layout(table: TableData, width: int | None) -> tuple[int, bool]:
    """(density, notes_inline): the least dense layout that fits `width` with a roomy enough note column,
    else the least dense that fits with the notes under the table, else the densest."""
    if width is None:
        return ROOMY, True
    longest_note = max((cell_len(row.note) for row in table.rows), default=0)
    for notes_inline in (True, False) if table.has_notes else (False,):
        for density in (ROOMY, DENSE, DENSEST):
            if not _fits(_rich_table(table, density, notes_inline)[0], width):
                continue
            if notes_inline:  # the room the note column gets beside the rest of the table
                gap = 3 if density == ROOMY else 2  # "│" between two padded cells, or two spaces
                bare = _rich_table(table, density, notes_inline=False)[0]
                if width - rendered_width(bare, width) - gap < min(NOTE_MIN, longest_note):
                    continue
            return density, notes_inline
    return DENSEST, False


def _fits(table: Table, width: int) -> bool:
    """Does `table` fit `width` columns with every column at least its minimum? (Rich's own layout can
    squeeze a column to nothing, or come out a column wider than asked.)"""
    return minimum_width(table) <= width and rendered_width(table, width) <= width


def _overflow_width(table: Table) -> int:
    """Fix `table`'s width at the least it renders in whole (else Rich squeezes columns to nothing to meet
    the terminal's width) and return it."""
    needed = minimum_width(table)
    while True:
        table.width = needed
        drawn = rendered_width(table, needed)
        if drawn <= needed:
            return needed
        needed = drawn  # Rich's layout came out wider than asked: ask for that


def minimum_width(table: Table) -> int:
    """The fewest columns `table` takes with every column at its minimum (figures whole, text wrapped)."""
    console = Console(width=100_000, file=io.StringIO(), color_system=None)
    return Measurement.get(console, console.options, table).minimum


def rendered_width(table: Table, width: int) -> int:
    """The widest line `table` takes when Rich lays it out for a terminal `width` columns wide."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    lines = Segment.split_lines(console.render(table, console.options))
    return max((Segment.get_line_length(line) for line in lines), default=0)


def _rich_table(table: TableData, density: int, notes_inline: bool) -> tuple[Table, list[str]]:
    """One layout of `table` (ROOMY, DENSE or DENSEST) and the lines to print under it: row notes in a
    wrapping column, or under the table labelled by their row; the abbreviations' legend; its notes."""
    rows = table.text_rows()
    if table.has_notes:
        rows = [cells[:-1] for cells in rows]
    shorts = [dict(col.short) if density > ROOMY else {} for col in table.columns]
    rows = [[short.get(cell, cell) for cell, short in zip(cells, shorts, strict=True)] for cells in rows]
    labelled = [] if notes_inline else [f"{_label(table, cells)}: {row.note}"
                                        for row, cells in zip(table.rows, rows, strict=True) if row.note]
    style = {} if density == ROOMY else dict(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                                              collapse_padding=True)
    out = Table(title=table.title, **style)
    for index, col in enumerate(table.columns):
        justify = "left" if col.align == "left" else "right"
        if col.no_wrap:  # as wide as its longest cell: a figure is never wrapped, folded or cut with "…"
            longest = max((cell_len(cells[index]) for cells in rows), default=0)
            header = _header(col.name, longest) if density == DENSEST else col.name
            widest = max(cell_len(line) for line in header.split("\n"))
            out.add_column(Text(header), justify=justify, no_wrap=True, min_width=max(longest, widest))
        else:  # text wraps at spaces, down to its longest word (20 at most): no column squeezed away
            out.add_column(Text(col.name), justify=justify, overflow="fold",
                           min_width=_longest_word([col.name, *(cells[index] for cells in rows)]))
    if notes_inline and table.has_notes:
        out.add_column(Text("note"), justify="left", overflow="fold", max_width=60,
                       min_width=_longest_word([row.note for row in table.rows]))
    previous = None
    for row, cells in zip(table.rows, rows, strict=True):
        if table.sections and previous is not None and cells[0] != previous:
            out.add_section()
        previous = cells[0]
        shown = cells + ([row.note] if notes_inline and table.has_notes else [])
        out.add_row(*(Text(cell) for cell in shown), style=row.style or None)
    return out, [*labelled, *_legend(table, rows, shorts), *table.notes]


def _longest_word(texts: Sequence[str], cap: int = 20) -> int:
    return min(cap, max((cell_len(word) for text in texts for word in text.split()), default=1))


HEADER_LINES = 3  # a wrapped header takes this many lines at most


def _header(name: str, width: int) -> str:
    """`name` wrapped to fit over cells `width` wide, at spaces and after '_' or '/' inside a word
    ('total_train_' / 'time_s'), in HEADER_LINES lines at most (wider than `width` if need be)."""
    pieces = [(piece, index > 0) for word in name.split()
              for index, piece in enumerate(re.findall(r"[^_/]*[_/]|[^_/]+$", word))]
    width = max([width, *(cell_len(piece) for piece, _ in pieces)])
    while True:
        lines: list[str] = []
        for piece, joined in pieces:
            glue = "" if joined else " "
            if lines and cell_len(lines[-1]) + len(glue) + cell_len(piece) <= width:
                lines[-1] += glue + piece
            else:
                lines.append(piece)
        if len(lines) <= HEADER_LINES:
            return "\n".join(lines)
        width += 1


def _label(table: TableData, cells: Sequence[str]) -> str:
    """The row a note belongs to, by its key columns (the first column when none is marked)."""
    keys = [i for i, col in enumerate(table.columns) if col.key] or [0]
    return " ".join(cells[i] for i in keys)


def _legend(table: TableData, rows: Sequence[Sequence[str]], shorts: Sequence[dict[str, str]]) -> list[str]:
    """One line naming the abbreviations the rows show, e.g. 'runtime: ort = onnxruntime'."""
    parts = []
    for index, (col, short) in enumerate(zip(table.columns, shorts, strict=True)):
        shown = {cells[index] for cells in rows}
        used = [f"{abbreviation} = {value}" for value, abbreviation in short.items() if abbreviation in shown]
        if used:
            parts.append(f"{col.name}: {', '.join(used)}")
    return ["; ".join(parts)] if parts else []


def to_markdown(table: TableData) -> str:
    """A GitHub-flavoured markdown table under a bold title, notes as a list: pastes unchanged."""
    header = table.header()
    aligns = [":---" if c.align == "left" else "---:" for c in table.columns]
    aligns += [":---"] if table.has_notes else []
    lines = [f"**{_md_escape(table.title)}**", "", _md_row(header), "| " + " | ".join(aligns) + " |"]
    lines += [_md_row(cells) for cells in table.text_rows()]
    if table.notes:
        lines.append("")
        lines += [f"- {_md_escape(note)}" for note in table.notes]
    return "\n".join(lines) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_escape(c) or " " for c in cells) + " |"


def _md_escape(text: str) -> str:
    """A pipe would split the cell and a newline would end the table: escape the one, flatten the other."""
    return " ".join(text.split("\n")).replace("|", "\\|")


def to_csv(tables: Sequence[TableData]) -> str:
    """One CSV document a CSV reader takes with its defaults: one header row, then the rows; numbers as
    plain figures (no thousands separators, no units), empty where there is none. Several tables stack
    under the union of their columns with a first `table` column holding each row's table key (filter on
    it); a single table has no such column. Titles and notes are left to the JSON format."""
    tables = list(tables)
    several = len(tables) > 1
    header = (["table"] if several else []) + list(dict.fromkeys(n for t in tables for n in t.header()))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for table in tables:
        names = table.header()
        for row in table.rows:
            cells = [csv_text(cell, col.fmt) for cell, col in zip(row.cells, table.columns, strict=True)]
            values = dict(zip(names, cells + ([row.note] if table.has_notes else []), strict=True))
            if several:
                values["table"] = table.key
            writer.writerow([values.get(name, "") for name in header])
    return buffer.getvalue()


def table_dict(table: TableData) -> dict:
    """A table as JSON-ready data: raw numbers (a Stat as {mean, std, n}), None as null."""
    rows = []
    for row in table.rows:
        entry = {col.name: cell_value(cell) for col, cell in zip(table.columns, row.cells, strict=True)}
        if row.note:
            entry["note"] = row.note
        rows.append(entry)
    return {"key": table.key, "title": table.title, "columns": [c.name for c in table.columns],
            "rows": rows, "notes": list(table.notes)}


def to_json(tables: Sequence[TableData]) -> str:
    """Every table in one JSON document: {"tables": [...]} (NaN refused: it is not valid JSON)."""
    return json.dumps({"tables": [table_dict(t) for t in tables]}, indent=2, allow_nan=False) + "\n"


def render_text(tables: Sequence[TableData], fmt: str) -> str:
    """markdown, csv or json text of `tables` (rich is printed by the caller through its console)."""
    if fmt == "markdown":
        return "\n".join(to_markdown(t) for t in tables)
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "json":
        return to_json(tables)
    raise BenchError(f"format {fmt!r} has no text rendering; choose markdown, csv or json")
