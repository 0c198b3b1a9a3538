"""The package's shape: no import cycle between modules, and the layers of pyproject.toml hold.

grimp (import-linter's graph library) reads every import of `authmanager`, including the
imports inside functions and `TYPE_CHECKING` blocks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grimp
import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("authmanager", cache_dir=None)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """One cycle as a chain of imports, from its first module back to itself."""
    first, members = cycle[0], set(cycle)
    back = min(
        (m for m in graph.find_modules_that_directly_import(first) if m in members),
        key=lambda m: len(graph.find_shortest_chain(importer=first, imported=m) or ()),
    )
    chain = graph.find_shortest_chain(importer=first, imported=back) or (first, back)
    return " -> ".join([*chain, first])


def route(found: grimp.Route) -> str:
    """One illegal route: its importing modules, the chain between, its imported modules."""
    return " -> ".join(
        [",".join(sorted(found.heads)), *found.middle, ",".join(sorted(found.tails))]
    )


def layers_contracts() -> list[dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return [c for c in config["contracts"] if c["type"] == "layers"]


def parse_layers(lines: Iterable[str]) -> list[grimp.Layer]:
    """import-linter's notation: `a : b` are independent siblings, `a | b` may import each other."""
    layers = []
    for line in lines:
        independent = "|" not in line
        names = [name.strip() for name in line.replace("|", ":").split(":")]
        layers.append(grimp.Layer(*names, independent=independent))
    return layers


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    """The checker itself: a three-module cycle is found (and a chain off it is not)."""
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a")]:
        graph.add_import(importer=importer, imported=imported)
    cycles = import_cycles(graph)
    assert cycles == [["p.a", "p.b", "p.c"]]
    assert describe(graph, cycles[0]) == "p.a -> p.b -> p.c -> p.a"


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    """No module of authmanager imports, directly or not, a module that imports it back."""
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


def test_the_layer_checker_finds_an_upward_import() -> None:
    """The checker itself: a lower layer importing a higher one is reported."""
    graph = grimp.ImportGraph()
    for package in ("p", "p.high", "p.low"):
        graph.add_module(package)
    for importer, imported in [("p.high.x", "p.low.y"), ("p.low.y", "p.high.z")]:
        graph.add_import(importer=importer, imported=imported)
    illegal = graph.find_illegal_dependencies_for_layers(layers=parse_layers(["p.high", "p.low"]))
    assert {(d.importer, d.imported) for d in illegal} == {("p.low", "p.high")}


def test_layers_of_pyproject_hold(graph: grimp.ImportGraph) -> None:
    """Each layers contract of [tool.importlinter] holds: lower layers never import higher."""
    contracts = layers_contracts()
    assert contracts, "pyproject.toml has no import-linter layers contract"
    for contract in contracts:
        layers = parse_layers(contract["layers"])
        known = {name for layer in layers for name in layer.module_tails}
        missing = {name for name in known if name not in graph.modules}
        assert not missing, f"{contract['name']}: no such modules {sorted(missing)}"
        illegal = graph.find_illegal_dependencies_for_layers(layers=layers)
        routes = sorted(
            f"{d.importer} -> {d.imported}: " + "; ".join(map(route, d.routes)) for d in illegal
        )
        assert not routes, f"{contract['name']}:\n" + "\n".join(routes)
