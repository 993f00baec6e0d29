"""The import graph's contracts (``[tool.importlinter]`` in pyproject.toml), checked in-process.

grimp reads every ``import`` statement, function-level and ``TYPE_CHECKING`` ones included, so a lazy
import of evaluation code inside a product function breaks the contract as surely as one at the top.
"""
from __future__ import annotations

import pkgutil
from pathlib import Path

import grimp
from importlinter import api
from importlinter.cli import lint_imports

import latentedit

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

