"""The shape of the code: no import cycle among the project's modules, background
work flowing one way (tasks import the engine, never the reverse), and no late
import without a comment naming the cycle it breaks. Read from the source with
grimp, which sees imports inside functions too."""

import ast
import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "alerts", "api", "hooks", "metrics", "runtime", "synchronizations", "syncweb")
TASK_MODULES = {"synchronizations.tasks", "runtime.tasks", "alerts.tasks"}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def project_modules(graph) -> list[str]:
    return sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)


def test_no_import_cycle_among_the_projects_modules(graph):
    cycles = []
    for module in project_modules(graph):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.split(".")[0] not in PACKAGES:
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(f"{module} -> {' -> '.join(back)}")
    assert cycles == []


@pytest.mark.parametrize(
    "layer",
    [
        "synchronizations.engine",
        "synchronizations.operations",
        "synchronizations.jobs",
        "synchronizations.models",
        "synchronizations.connectors",
        "alerts.evaluator",
        "alerts.delivery",
        "alerts.rounds",
    ],
)
def test_the_engine_and_operations_never_reach_celery_tasks(graph, layer):
    for task_module in TASK_MODULES & set(graph.modules):
        assert graph.find_shortest_chains(importer=layer, imported=task_module, as_packages=True) == set()


def late_imports(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every import inside a function or method of ``path``."""
    source = path.read_text()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append((inner.lineno, ast.get_source_segment(source, inner)))
    return found


def explained(lines: list[str], line: int) -> bool:
    """Whether a comment naming a cycle stands on the import's line or above it, in
    the block of imports and comments the import belongs to."""
    index = line - 1
    while index >= 0:
        text = lines[index].strip()
        if "#" in text and "cycle" in text.lower():
            return True
        if index < line - 1 and not (text.startswith(("import ", "from ", "#")) or text.endswith(("(", ","))):
            return False
        index -= 1
    return False


def test_every_late_import_names_the_cycle_it_breaks():
    unexplained = []
    for package in (*PACKAGES, "bench", "trackers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text().splitlines()
            for line, text in late_imports(path):
                if not explained(lines, line):
                    unexplained.append(f"{path.relative_to(ROOT)}:{line} {text}")
    assert unexplained == []


def test_the_late_import_check_finds_an_import_inside_a_function(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import os\n\n\ndef f():\n    from os import path\n    return path\n")
    assert late_imports(module) == [(5, "from os import path")]


# A write of a sync's state outside SynchronizationQuerySet: .update(status=...) etc.
STATE_WRITE = re.compile(r"\.update\((?:[^()]|\([^()]*\))*?\b(status|error_message|error_at)\s*=", re.S)
# Allowed: the queryset itself, and the bulk benchmark, which puts its data set back as generated
# after the Retry it measured (a repair of the bench's data, not a state change).
STATE_WRITE_ALLOWED = {"bench/bulk.py", "synchronizations/models.py"}


def test_nothing_but_the_queryset_methods_writes_a_syncs_state():
    found = []
    for package in (*PACKAGES, "bench", "trackers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if (
                "migrations" in path.parts
                or relative == "synchronizations/models.py"
                or relative in STATE_WRITE_ALLOWED
            ):
                continue
            source = path.read_text()
            found += [f"{relative}:{source[: m.start()].count(chr(10)) + 1}" for m in STATE_WRITE.finditer(source)]
    assert found == []
