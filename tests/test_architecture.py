"""The import contract (issue 12): imports flow one way, cli -> api -> ops -> store -> io -> core.

Every module under gitreg/ is parsed (no import is run); imports inside functions count,
imports under `if TYPE_CHECKING:` do not (they never run). A module may import modules of
its own layer or below, never above, and the graph of imports has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gitreg"

# lowest first; a module's layer is the first prefix that matches it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("gitreg.core", "gitreg.errors")),
    ("io", ("gitreg.git", "gitreg.dvc", "gitreg.dvcadd", "gitreg._dvc_new_add", "gitreg.yamlio", "gitreg.schema",
            "gitreg.fastscan", "gitreg.blockyaml", "gitreg.metrics_file", "gitreg.checksum", "gitreg.github",
            "gitreg.templates")),
    ("store", ("gitreg.store", "gitreg.provenance")),
    ("ops", ("gitreg.ops",)),
    ("api", ("gitreg.api",)),
    # MLflow's registry store (issue 15): an adapter on the facade, imported only by MLflow
    ("mlflow", ("gitreg.mlflow",)),
    ("cli", ("gitreg.cli", "gitreg.demo", "gitreg.__main__", "gitreg")),
]
# the version string is metadata, not the facade: anyone may read it
LEAF_NAMES = {"__version__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py: add it")


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The gitreg modules `path` imports at run time."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "gitreg")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "gitreg":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif alias.name not in LEAF_NAMES:
                    out.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: {m for m in imports_of(path, known) if m != name} for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
            for a, targets in sorted(graph.items()) for b in sorted(targets) if layer(b) > layer(a)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_every_module_has_a_layer():
    for name in all_modules():
        layer(name)


def test_no_upward_import():
    assert upward_imports(import_graph()) == []


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("source", ["from gitreg.api import Registry\n",
                                    "def f():\n    from gitreg import api\n"])
def test_the_check_sees_an_upward_import(tmp_path, source):
    fake = tmp_path / "gitreg" / "core" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    assert imports_of(fake, set(all_modules())) == {"gitreg.api"}


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


MODULE_LINES = 400
FUNCTION_LINES = 60


def test_no_module_or_function_is_too_long_to_read():
    """Issue 12: a module is one room (≤ 400 lines), a function one step (≤ 60 lines)."""
    too_long = []
    for name, path in all_modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_use_cases_never_import_the_facade():
    """gitreg/ops takes a Context: no import of gitreg.api, not even under TYPE_CHECKING."""
    offenders = []
    for name, path in all_modules().items():
        if not name.startswith("gitreg.ops"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if any(n == "gitreg.api" or n.startswith("gitreg.api.") for n in names):
                offenders.append(name)
    assert offenders == []


def _third_party_imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_only_gitreg_mlflow_imports_mlflow_and_nothing_imports_it():
    """MLflow is an extra (issue 15): only the store (gitreg.mlflow) and `gitreg import mlflow`
    (gitreg.ops.import_mlflow, inside its functions) import it; nothing imports gitreg.mlflow."""
    graph = import_graph()
    users = sorted(name for name, path in all_modules().items()
                   if "mlflow" in _third_party_imports(path)
                   and not name.startswith(("gitreg.mlflow", "gitreg.ops.import_mlflow")))
    importers = sorted(a for a, targets in graph.items() if not a.startswith("gitreg.mlflow")
                       and any(t.startswith("gitreg.mlflow") for t in targets))
    assert (users, importers) == ([], [])


def test_the_mlflow_store_imports_gitreg_lazily():
    """MLflow imports every installed plugin in every process: loading the store's module must
    not load gitreg's API, DVC or the use cases."""
    import subprocess
    import sys

    probe = ("import sys, gitreg.mlflow.store\n"
             "print(sorted(m for m in sys.modules if m.startswith(('gitreg.api', 'gitreg.ops', "
             "'gitreg.store', 'dvc', 'jsonschema'))))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=PACKAGE.parent, check=True)
    assert proc.stdout.strip() == "[]"
