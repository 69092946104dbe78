"""The layering, checked on the source: each layer imports only the layers below it.

bench:   commands -> run -> report / records -> runtimes -> measure   (errors: everyone)
project: suites -> bench -> export -> train
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each part may import from this project (itself always). A part absent from a list is forbidden.
ALLOWED = {
    "bench.measure": {"bench.errors", "train"},
    "bench.runtimes": {"bench.errors", "bench.measure", "export", "train"},
    "bench.records": {"bench.errors", "bench.measure", "train"},
    "bench.report": {"bench.errors", "bench.measure", "bench.records", "bench.runtimes", "train"},
    "bench.run": {"bench.errors", "bench.measure", "bench.records", "bench.runtimes", "export", "train"},
    "bench.commands": {"bench", "export", "train"},
    "bench.cli": {"bench", "export", "train"},
    "bench.errors": {"train"},
    "bench.__main__": {"bench"},
    "bench.entry": {"bench", "train"},  # the console script: signal handling before the imports
    "bench": set(),  # the package itself
    "export": {"train"},
    "train": set(),
    "suites": {"bench", "export", "train"},
}
PROJECT = ("bench", "export", "train", "suites")


def _part(module: str) -> str:
    """The ALLOWED key a module belongs to: the longest matching prefix."""
    matches = [key for key in ALLOWED if module == key or module.startswith(key + ".")]
    return max(matches, key=len)


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports, at top level or inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in PROJECT}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = sorted(p for top in PROJECT for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path: Path) -> None:
    module = _module_name(path)
    part = _part(module)
    allowed = ALLOWED[part] | {part}
    wrong = sorted(name for name in _imports(path)
                   if not any(name == ok or name.startswith(ok + ".") for ok in allowed))
    assert not wrong, f"{module} ({part}) imports {wrong}; {part} may import only {sorted(allowed)}"


def test_every_source_belongs_to_a_layer() -> None:
    assert len(SOURCES) > 50
    for path in SOURCES:
        assert _part(_module_name(path)) in ALLOWED
