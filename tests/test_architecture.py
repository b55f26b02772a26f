"""The layers of the package hold in the code (docs/ARCHITECTURE.md).

Every import of every module is read from its source, those placed inside functions
included, so that no cycle and no upward import can hide in a function body:

* no import cycle between modules;
* each module imports only from its own layer and the layers below it;
* imports inside functions only for the optional heavy dependencies.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"egamma_cnn": ROOT / "src" / "egamma_cnn", "egamma_cnn.processors": ROOT / "processors"}

#: Layer of every module, by the longest matching name prefix.
LAYERS: dict[str, str] = {
    "egamma_cnn": "foundation",
    "egamma_cnn.geometry": "foundation",
    "egamma_cnn.cellgrid": "foundation",
    "egamma_cnn.columnar": "foundation",
    "egamma_cnn.provenance": "foundation",
    "egamma_cnn.plotting": "foundation",
    "egamma_cnn.intervals": "foundation",
    "egamma_cnn.filecache": "foundation",
    "egamma_cnn.jsonio": "foundation",
    "egamma_cnn.runfolder": "foundation",
    "egamma_cnn.temporaries": "foundation",
    "egamma_cnn.images": "runtime",
    "egamma_cnn.features": "runtime",
    "egamma_cnn.model": "runtime",
    "egamma_cnn.corrections": "runtime",
    "egamma_cnn.identification": "runtime",
    "egamma_cnn.nanoevents": "runtime",
    "egamma_cnn.expressions": "runtime",
    "egamma_cnn.execution": "execution",
    "egamma_cnn.sim": "production",
    "egamma_cnn.train": "production",
    "egamma_cnn.tnp": "studies",
    "egamma_cnn.datamc": "studies",
    "egamma_cnn.isolation": "studies",
    "egamma_cnn.processors": "processors",
    "egamma_cnn.workflows": "workflows",
    "egamma_cnn.cli": "cli",
}

#: What each layer may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "runtime": {"foundation"},
    "execution": {"foundation"},
    "production": {"foundation", "runtime", "execution"},
    "studies": {"foundation", "runtime"},
    "processors": {"foundation", "runtime", "studies"},
    "workflows": {"foundation", "runtime", "execution", "production", "studies", "processors"},
    "cli": {
        "foundation",
        "runtime",
        "execution",
        "production",
        "studies",
        "processors",
        "workflows",
    },
}

#: Imports that may sit inside a function: optional or heavy dependencies that a module
#: must not pull in when it is imported (the ``train`` and ``sim`` extras, plotting,
#: the distributed scheduler and the batch-system clusters, and coffea's luminosity
#: mask, whose numba functions compile when it is imported: 2.4 s in every command and
#: every worker process, for the runs with a golden JSON only).
DEFERRED_OK = (
    "coffea.lumi_tools",
    "torch",
    "onnx",
    "pythia8mc",
    "matplotlib",
    "mplhep",
    "distributed",
    "dask.distributed",
    "dask_jobqueue",
    "dask_gateway",
)

#: The command line imports each command's machinery when the command runs, so that
#: ``--help`` and argument errors answer at once: the workflows (plotting, the
#: distributed scheduler), the simulation (Pythia8) and the training (torch).
DEFERRED_OK_IN: dict[str, tuple[str, ...]] = {
    "egamma_cnn.cli": ("egamma_cnn.workflows", "egamma_cnn.sim", "egamma_cnn.train"),
}


@dataclass(frozen=True)
class Import:
    module: str
    target: str
    line: int
    deferred: bool


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    return [
        f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
        for alias in node.names
    ]


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        top_level = set()
        for node in tree.body:
            stack = [node]
            while stack:  # module level, including inside if/try blocks
                item = stack.pop()
                if isinstance(item, ast.Import | ast.ImportFrom):
                    top_level.add(item)
                elif isinstance(item, ast.If | ast.Try):
                    stack.extend([*item.body, *item.orelse, *getattr(item, "finalbody", [])])
                    for handler in getattr(item, "handlers", []):
                        stack.extend(handler.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, node, path.name == "__init__.py"):
                    found.append(Import(module, target, node.lineno, node not in top_level))
    return found


IMPORTS = _imports()


def _ancestors(module: str) -> list[str]:
    """The packages of the package that ``module`` sits in, root excluded."""
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(2, len(parts)) if ".".join(parts[:k]) in MODULES]


def _layer(module: str) -> str:
    best = max(
        (name for name in LAYERS if module == name or module.startswith(name + ".")), key=len
    )
    return LAYERS[best]


def _internal(target: str) -> str | None:
    """The module of the package that an import names (None for other packages)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if not any(m == n or m.startswith(n + ".") for n in LAYERS)]
    assert not unplaced


def test_no_import_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        target = _internal(imp.target)
        if target is None or target == imp.module or target == "egamma_cnn":
            continue
        graph[imp.module].add(target)
        # importing pkg.sub runs pkg/__init__.py first, unless pkg is the importer's own
        # package (already being imported when the importer runs)
        for ancestor in _ancestors(target):
            if ancestor not in _ancestors(imp.module) and ancestor != imp.module:
                graph[imp.module].add(ancestor)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_layers_import_downwards_only():
    wrong = []
    for imp in IMPORTS:
        target = _internal(imp.target)
        if target is None or target == "egamma_cnn":
            continue
        own, theirs = _layer(imp.module), _layer(target)
        if theirs != own and theirs not in ALLOWED[own]:
            wrong.append(f"{imp.module}:{imp.line} ({own}) imports {target} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_imports_inside_functions_only_for_optional_dependencies():
    deferred = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if imp.deferred
        and not any(
            imp.target == d or imp.target.startswith(d + ".")
            for d in (*DEFERRED_OK, *DEFERRED_OK_IN.get(imp.module, ()))
        )
    ]
    assert not deferred, "\n".join(deferred)


#: Layers whose modules may import an optional heavy dependency only inside a function:
#: importing them must stay cheap and work without the extras.
LIGHT_LAYERS = ("foundation", "runtime", "execution", "studies")


def test_light_layers_import_no_optional_dependency_at_module_level():
    heavy = [
        f"{imp.module}:{imp.line} imports {imp.target} at module level"
        for imp in IMPORTS
        if not imp.deferred
        and _layer(imp.module) in LIGHT_LAYERS
        and not imp.module.endswith(".plots")  # plotting modules exist to draw
        and any(imp.target == d or imp.target.startswith(d + ".") for d in DEFERRED_OK)
    ]
    assert not heavy, "\n".join(heavy)


def test_no_dynamic_import_hides_an_edge():
    """``importlib.import_module`` or ``__import__`` would escape the checks above."""
    dynamic = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in ("import_module", "__import__"):
                    dynamic.append(f"{module}:{node.lineno}")
    assert not dynamic, f"dynamic imports: {dynamic}"


@pytest.mark.parametrize(
    ("module", "target", "expected"),
    [
        ("egamma_cnn.features.columns", "egamma_cnn.tnp.config", "studies"),
        ("egamma_cnn.processors.isolation", "egamma_cnn.workflows.tnp", "workflows"),
    ],
)
def test_the_layer_rules_catch_an_upward_import(module, target, expected):
    """The check above can fail: these made-up imports break the rules."""
    assert _layer(target) == expected
    assert expected not in ALLOWED[_layer(module)]
