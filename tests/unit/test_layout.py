"""The rules of the house, read from the source: imports point one way (the HTTP edge and the
command line -> services -> record, policy, models), only gateway/record and gateway/wiring.py
import a store, carriers depend on nothing in gateway but the shipment model and the error tree,
and no import hides inside a function but the few that keep a heavy optional library unloaded.

Each module's imports are parsed with ``ast`` (nothing is imported), so a rule broken anywhere
names the module and the import."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

#: The edges: the aiohttp application and its APIs, the command line, and the demo command's
#: body (it builds the app and runs it beside the carrier sandboxes).
EDGE = ("gateway.http", "gateway.cli", "gateway.demo")
#: What the services build on; it imports nothing of them.
CORE = ("gateway.record", "gateway.policy", "gateway.models", "gateway.errors", "gateway.events")
#: The only modules besides gateway/record that import a store.
STORE_USERS = ("gateway.record", "gateway.wiring")
#: What the carriers may import of the gateway.
CARRIERS_MAY_USE = ("gateway.models", "gateway.errors")
#: Imports inside a function: each keeps an optional, slow-to-import library unloaded until
#: it is used (asyncpg, ~0.1 s, for a PostgreSQL record; uvloop, when installed).
LATE = ("gateway.record.stores.postgres", "uvloop")


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == p or name.startswith(p + ".") for p in packages)


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        return []
    return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]


@cache
def _modules() -> dict[str, tuple[set[str], set[str]]]:
    """Module -> (everything it imports, what it imports inside a function)."""
    out = {}
    for path in sorted([*ROOT.glob("gateway/**/*.py"), *ROOT.glob("carriers/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        every = {name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                 for name in _imported(node)}
        late = {name for function in ast.walk(tree)
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
                for node in ast.walk(function) if isinstance(node, ast.Import | ast.ImportFrom)
                for name in _imported(node)}
        out[_name(path)] = (every, late)
    return out


def _broken(rule: str, allowed: tuple[str, ...], imported: tuple[str, ...]) -> list[str]:
    """``module imports name`` for every module outside ``allowed`` importing ``imported``."""
    return [f"{module} imports {name} ({rule})" for module, (names, _) in _modules().items()
            if not _within(module, allowed) for name in sorted(names)
            if _within(name, imported)]


def test_the_modules_are_found() -> None:
    modules = _modules()
    assert {"gateway.http.app", "gateway.record.record", "gateway.wiring",
            "carriers.posti.adapter"} <= modules.keys()


def test_only_the_edges_import_the_http_edge_and_the_command_line() -> None:
    assert _broken("services import no HTTP edge", EDGE, ("gateway.http",)) == []
    assert _broken("nothing imports the command line", ("gateway.cli",), ("gateway.cli",)) == []


def test_only_the_edges_and_the_carrier_sandboxes_serve_http() -> None:
    """Services take no aiohttp server types (aiohttp's client is used to reach carriers,
    witnesses and logs)."""
    assert _broken("services take no aiohttp types", (*EDGE, "carriers.sandbox"),
                   ("aiohttp.web", "aiohttp.web_request", "aiohttp.typedefs")) == []


def test_the_core_imports_no_service() -> None:
    broken = [f"{module} imports {name}" for module, (names, _) in _modules().items()
              if _within(module, CORE) for name in sorted(names)
              if _within(name, "gateway") and name != "gateway" and not _within(name, CORE)]
    assert broken == []


def test_only_the_record_and_the_wiring_import_a_store() -> None:
    assert _broken("the Record is the only door to storage", STORE_USERS,
                   ("gateway.record.stores",)) == []


def test_carriers_depend_on_the_shipment_model_and_the_errors_only() -> None:
    broken = [f"{module} imports {name}" for module, (names, _) in _modules().items()
              if _within(module, "carriers") for name in sorted(names)
              if _within(name, "gateway") and not _within(name, CARRIERS_MAY_USE)]
    assert broken == []


def test_nothing_outside_carriers_imports_their_private_modules() -> None:
    broken = [f"{module} imports {name}" for module, (names, _) in _modules().items()
              if not _within(module, "carriers") for name in sorted(names)
              if _within(name, "carriers")
              and any(part.startswith("_") for part in name.split(".")[1:])]
    assert broken == []


def test_no_import_hides_in_a_function_but_the_late_libraries() -> None:
    broken = [f"{module} imports {name} in a function" for module, (_, late) in
              _modules().items() for name in sorted(late) if not _within(name, LATE)]
    assert broken == []
