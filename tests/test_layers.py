"""The import graph's contracts (``[tool.importlinter]`` in pyproject.toml), checked in-process, and the
shape of the graph: no cycles, imports at module tops, small modules.

grimp reads every ``import`` statement, function-level and ``TYPE_CHECKING`` ones included, so a lazy
import of evaluation code inside a product function breaks the contract as surely as one at the top.
"""
from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import grimp
from importlinter import api
from importlinter.cli import lint_imports

import latentedit
from latentedit._optional import EXTRAS

PACKAGE_DIR = Path(latentedit.__file__).resolve().parent
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
#: Top-level modules allowed to import evaluation code: evaluation itself and the CLI hooks.
ABOVE_THE_PRODUCT = {"latentedit.eval", "latentedit.cli"}


def _contract(contract_id: str) -> dict:
    contracts = api.read_configuration(str(PYPROJECT))["contracts_options"]
    found = [c for c in contracts if c.get("id") == contract_id]
    assert found, f"pyproject.toml has no import-linter contract with id {contract_id!r}"
    return found[0]


def test_import_linter_contracts_are_kept(capfd):
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capfd.readouterr().out
    assert exit_code == 0, f"an import-linter contract is broken:\n{report}"
    assert "Evaluation apart: no product module imports latentedit.eval KEPT" in report
    assert "Layers: each top-level module imports only the layers below it KEPT" in report


def test_every_product_module_is_a_source_of_the_eval_contract():
    """A new top-level module is covered the day it is added (or this names it)."""
    contract = _contract("eval-apart")
    assert contract["type"] == "forbidden" and contract["forbidden_modules"] == ["latentedit.eval"]
    top_level = {f"latentedit.{m.name}" for m in pkgutil.iter_modules(latentedit.__path__)}
    assert ABOVE_THE_PRODUCT <= top_level
    missing = sorted(top_level - ABOVE_THE_PRODUCT - set(contract["source_modules"]))
    assert not missing, f"add {missing} to source_modules of the 'eval-apart' contract in pyproject.toml"
    stale = sorted(set(contract["source_modules"]) - top_level)
    assert not stale, f"source_modules of 'eval-apart' names modules that no longer exist: {stale}"


def test_package_root_does_not_import_eval_or_cli():
    """``latentedit/__init__.py`` itself (a contract on ``latentedit`` would cover its descendants too)."""
    graph = grimp.build_graph("latentedit", cache_dir=None)
    direct = graph.find_modules_directly_imported_by("latentedit")
    assert not {m for m in direct if m.split(".")[:2] in (["latentedit", "eval"], ["latentedit", "cli"])}
    assert "latentedit.eval" in graph.modules and "latentedit.eval.bench.quality" in graph.modules



def _top_level() -> set[str]:
    return {f"latentedit.{m.name}" for m in pkgutil.iter_modules(latentedit.__path__)}


def test_every_top_level_module_has_a_layer():
    """The layer order names every top-level module exactly once (a new one is placed the day it is added)."""
    contract = _contract("layers")
    assert contract["type"] == "layers"
    named = [m.strip() for layer in contract["layers"] for m in layer.replace(":", "|").split("|")]
    assert len(named) == len(set(named)), f"a module is in two layers: {named}"
    assert named[:2] == ["latentedit.cli", "latentedit.eval"]  # evaluation above the product, the CLI above all
    missing = sorted(_top_level() - set(named))
    assert not missing, f"place {missing} in a layer of the 'layers' contract in pyproject.toml"
    stale = sorted(set(named) - _top_level())
    assert not stale, f"the 'layers' contract names modules that no longer exist: {stale}"


def _strongly_connected(graph) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (iterative: no recursion limit)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


def test_strongly_connected_finds_a_planted_cycle():
    class Graph:
        modules = {"a", "b", "c", "d"}
        _edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, m):
            return self._edges[m]

    assert _strongly_connected(Graph()) == [["a", "b", "c"]]


def test_no_import_cycles():
    """No two modules import each other, directly or through others (function-level imports count)."""
    graph = grimp.build_graph("latentedit", cache_dir=None)
    cycles = _strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


#: What may be imported inside a function: the optional packages (``latentedit._optional.EXTRAS``:
#: gradio, av, onnx, lpips, matplotlib, ...), dlib (a large native library only face detection needs)
#: and TensorBoard (optional logging of ``train``), each at the point of use, so that ``import latentedit``
#: and every ``--help`` work without them. torch.distributed is not here: it ships with torch.
LAZY_ALLOWED = set(EXTRAS) | {"dlib", "torch.utils.tensorboard"}
#: Function-level imports of our own modules, each with its reason.
LAZY_EXCEPTIONS = {
    ("latentedit.cli.main", "latentedit.devices"):
        "--device is checked with torch; importing it at the top would make `latentedit --help` import torch",
}
#: Most function-level imports the package may hold.
MAX_LAZY_IMPORTS = 40


def _function_level_imports():
    """``(module, imported module, line, package-__getattr__?)`` for every import inside a function."""
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        seen = set()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in seen:
                    continue
                seen.add(id(node))
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    targets = [".".join(base + ([node.module] if node.module else []))]
                else:
                    targets = [node.module]
                entry = parts[-1] == "__init__" and fn.name == "__getattr__"
                for target in targets:
                    yield module, target, node.lineno, entry


def _lazy_import_allowed(module: str, target: str, entry: bool) -> bool:
    if any(target == name or target.startswith(name + ".") for name in LAZY_ALLOWED):
        return True
    if (module, target) in LAZY_EXCEPTIONS:
        return True
    # A package's PEP 562 ``__getattr__`` loading its own submodules on first use: the one lazy step at the
    # entry of a subpackage whose modules import a heavy dependency (torch, cv2, gradio) at their top.
    return entry and (target == module or target.startswith(module + "."))


def test_function_level_imports_are_few_and_of_heavy_optional_packages():
    found = list(_function_level_imports())
    wrong = [f"{m}:{line} imports {t}" for m, t, line, entry in found if not _lazy_import_allowed(m, t, entry)]
    assert not wrong, ("move these imports to the module top (or, for a heavy optional package, add it to "
                       "LAZY_ALLOWED with its reason):\n" + "\n".join(wrong))
    assert len(found) < MAX_LAZY_IMPORTS, f"{len(found)} function-level imports"
    assert set(LAZY_EXCEPTIONS) <= {(m, t) for m, t, _, _ in found}, "a LAZY_EXCEPTIONS entry is stale"


#: Most lines a module may have; modules longer than this are usually two modules (STYLE.md).
MAX_LINES = 500
#: Modules allowed to be longer, each with its reason (none today).
LONG_MODULES: dict[str, str] = {}


def test_no_module_over_500_lines():
    sizes = {str(p.relative_to(PACKAGE_DIR.parent)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE_DIR.rglob("*.py")}
    long = sorted(f"{name} ({n} lines)" for name, n in sizes.items() if n > MAX_LINES and name not in LONG_MODULES)
    assert not long, f"split these modules (or list them in LONG_MODULES with a reason): {long}"
    assert set(LONG_MODULES) <= set(sizes), "a LONG_MODULES entry no longer exists"
