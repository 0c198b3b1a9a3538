"""Print authmanager's import graph: modules, package-level edges and import cycles.

Run `python docs/import_graph.py` (grimp comes with import-linter, in the `test` extra).
Every import counts, those under `if TYPE_CHECKING:` included.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp

PACKAGE = "authmanager"


def cycles(graph: grimp.ImportGraph, modules: list[str]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.find_modules_directly_imported_by(module)):
            if not target.startswith(PACKAGE):
                continue
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def group(module: str) -> str:
    """The second-level package of *module* (`authmanager._core`, `authmanager.accounts`)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def main() -> int:
    """Print the graph; exit 1 when there is a cycle."""
    graph = grimp.build_graph(PACKAGE)
    modules = sorted(m for m in graph.modules if m.startswith(PACKAGE))
    edges: dict[str, set[str]] = defaultdict(set)
    for module in modules:
        for target in graph.find_modules_directly_imported_by(module):
            if target.startswith(PACKAGE) and group(target) != group(module):
                edges[group(module)].add(group(target))
    print(f"{len(modules)} modules")
    for source in sorted(edges):
        print(f"  {source} -> {', '.join(sorted(edges[source]))}")
    found = cycles(graph, modules)
    print(f"{len(found)} import cycle(s)")
    for component in found:
        print("  " + " <-> ".join(component))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
