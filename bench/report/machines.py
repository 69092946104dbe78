"""Tables of merged runs: one latency table per machine (speedups within a machine only), the machines with
their environment side by side, and a sharded run's shards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bench.records.merge import MachineRuns, host_of
from bench.report.tables import environment_rows, run_table
from bench.report.tabular import Column, Row, TableData

# Environment items worth a column when machines are compared (the rest: `bench report` on one file).
_MACHINE_ITEMS = ("CPU", "cores", "threads used", "RAM", "GPU", "packages", "git commit")


def machine_run_tables(machines: Sequence[MachineRuns], wide: bool = False) -> list[TableData]:
    """Each machine's rows, one table per machine and device, titled by the machine."""
    tables = []
    for n, machine in enumerate(machines, start=1):
        rows = machine.merged.rows
        for device in dict.fromkeys(r.device for r in rows):
            table = run_table(rows, device, wide=wide)
            shares = [r.data["bench"].get("foreign_cpu_share") for r in machine.runs]
            worst = max((s for s in shares if isinstance(s, (int, float))), default=None)
            notes = [f"{len(machine.runs)} file(s) from {', '.join(machine.hosts)}"
                     + (f"; worst contention {worst:.0%}" if worst is not None else "")]
            tables.append(replace(table, key=f"{table.key}.m{n}",
                                  title=f"{table.title} — machine {n}: {machine.machine}",
                                  notes=(*table.notes, *notes)))
    return tables


def machines_table(machines: Sequence[MachineRuns]) -> TableData:
    """One column per machine: its environment block (from its first file) and the files merged."""
    columns = (Column("item", align="left"),
               *(Column(f"machine {n}", align="left") for n in range(1, len(machines) + 1)))
    blocks = [dict(environment_rows(m.runs[0].environment or {})) for m in machines]
    rows = [Row((item, *(block.get(item, "?") for block in blocks))) for item in _MACHINE_ITEMS]
    rows.append(Row(("hosts", *(", ".join(m.hosts) for m in machines))))
    rows.append(Row(("files", *(", ".join(_file(r) for r in m.runs) for m in machines))))
    rows.append(Row(("rows", *(str(len(m.merged.rows)) for m in machines))))
    return TableData("machines", "Machines merged", columns, tuple(rows),
                     ("speedups compare runtimes on one machine; across machines compare the latencies, "
                      "with the environments above",))


def shards_table(shards: Sequence[dict[str, Any]], folder: str) -> TableData:
    """A sharded run's shards: status, job id, host, rows; a failed shard's reason, log and missing rows."""
    columns = (Column("shard", align="left", key=True), Column("models", align="left"),
               Column("status", align="left"), Column("job", align="left"), Column("host", align="left"),
               Column("rows", "d"))
    rows = tuple(Row((s["shard"], s["models"], s["status"], s["job"] or None, s["host"] or None, s["rows"]),
                     s["note"] if s["status"] != "on file" and s["status"] != "done" else "",
                     style="red" if s["status"] == "FAILED" else "")
                 for s in shards)
    return TableData("shards", "Shards", columns, rows, (f"shard folder: {folder}",))


def _file(run) -> str:
    return run.path.name if run.path is not None else f"({host_of(run)})"
