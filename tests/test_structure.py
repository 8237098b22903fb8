"""The house rules a reader relies on: no import cycle in `syndicate/`, data flowing one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "syndicate"


def import_graph() -> dict[str, set[str]]:
    """Module -> the syndicate modules it imports, function-level imports included."""
    mods: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(block.test)
                     for n in ast.walk(block)}  # imported for type hints only: not at run time
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    full = f"{module}.{alias.name}"
                    if full in mods:
                        graph[name].add(full)
                    elif module in mods:
                        graph[name].add(module)
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in mods}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert "syndicate.config" in graph and graph["syndicate.dispatcher"]
    assert cycles(graph) == []


def test_the_checker_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_data_flows_one_way() -> None:
    """The feed builder only reads the store; sources never reach the targets directly."""
    graph = import_graph()
    assert not graph["syndicate.feed"] & {"syndicate.dispatcher", "syndicate.poller",
                                          "syndicate.ledger"}
    assert "syndicate.targets" not in graph["syndicate.poller"]
    assert "syndicate.poller" not in graph["syndicate.dispatcher"]


def test_the_scheduler_loads_no_runtime() -> None:
    """The scheduler process only sends ticks (they run in a worker) and checks in: it starts
    without the runtime, the poller, the dispatcher or their libraries, a second sooner on a
    small machine. A worker builds its runtime when it starts (the `worker_init` signal)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys, workers.tasks\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in\n"
            "      ('syndicate', 'requests', 'feedparser', 'lxml', 'jinja2'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT.parent)
    loaded = set(json.loads(out.stdout))
    assert {"syndicate.scheduler", "syndicate.heartbeat"} <= loaded
    assert not loaded & {"syndicate.runtime", "syndicate.poller", "syndicate.dispatcher",
                         "requests", "feedparser", "lxml", "jinja2"}
