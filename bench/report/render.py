"""Four renderers of bench.report.tabular tables: Rich, GitHub markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from bench.errors import BenchError
from bench.report.tabular import TableData, cell_value

FORMATS = ("rich", "markdown", "csv", "json")


def check_format(fmt: str) -> str:
    """`fmt` if it is one of FORMATS, else a BenchError naming them."""
    if fmt not in FORMATS:
        raise BenchError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def to_rich(table: TableData) -> Table:
    """A Rich table; cells are plain text (never markup: notes quote commands with brackets)."""
    out = Table(title=table.title, caption="\n".join(table.notes) or None, caption_justify="left")
    for col in table.columns:
        out.add_column(col.name, justify="left" if col.align == "left" else "right", overflow="fold")
    if table.has_notes:
        out.add_column("note", justify="left", overflow="fold", max_width=60)
    previous = None
    for row, cells in zip(table.rows, table.text_rows(), strict=True):
        if table.sections and previous is not None and cells[0] != previous:
            out.add_section()
        previous = cells[0]
        out.add_row(*(Text(cell) for cell in cells), style=row.style or None)
    return out


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


def to_csv(table: TableData) -> str:
    """A `# key: title` comment line, the header, then the rows (formatted as in the other text outputs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.header())
    writer.writerows(table.text_rows())
    return f"# {table.key}: {table.title}\n" + buffer.getvalue()


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
        return "\n".join(to_csv(t) for t in tables)
    if fmt == "json":
        return to_json(tables)
    raise BenchError(f"format {fmt!r} has no text rendering; choose markdown, csv or json")
