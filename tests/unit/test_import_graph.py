"""The import graph of `src/gardenos`, read from the source (ast, nothing imported): no cycles, no layer
reaching up, no domain reaching into another domain's private modules.

Every import statement counts, wherever it stands: at the top of a module, inside a function (a "lazy"
import) or under `if TYPE_CHECKING:`. A lazy or type-only import hides a cycle from the interpreter, not
from the reader: the two modules still cannot be understood, tested or moved one without the other, and
the cycles found in review (`agents/orchestrator` ↔ `pool` ↔ `service`, `db/outbox` ↔ `mail/mailer`) were
held together by exactly those.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
ROOT_PACKAGE = "gardenos"

# A domain's `repository` and `sql` modules (its SQL and row shapes) are private to the package that holds
# them: other domains call that package's service (or a public module) instead.
PRIVATE_MODULES = ("repository", "sql")


# The lowest layer: the database access everything else stands on. It may import only itself and what
# is below it (errors, settings, secrets, the embedded server it starts), never a subsystem above it.
LOWEST = "gardenos.db"
LOWEST_MAY_IMPORT = (
    "gardenos.db",
    "gardenos.errors",
    "gardenos.settings",
    "gardenos.secrets",
    "gardenos.embedded",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / ROOT_PACKAGE).rglob("*.py"))}


def _owning_module(name: str) -> str | None:
    """`gardenos.a.b.c` → the longest prefix that is one of our modules (`c` may be a name in `b`)."""
    modules = _modules()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@cache
def _imports(module: str) -> frozenset[str]:
    """Our modules that `module` imports, by any import statement anywhere in it."""
    path = _modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b`: b is a module when there is one by that name, else a name in a.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == ROOT_PACKAGE or name.startswith(ROOT_PACKAGE + "."):
                owner = _owning_module(name)
                if owner is not None and owner != module:
                    found.add(owner)
    return frozenset(found)


def _cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph = {m: sorted(_imports(m)) for m in _modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep graph never meets the recursion limit.
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return sorted(found)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_is_read() -> None:
    # A guard for the rules below: they pass vacuously if the source is not where this test looks.
    assert "gardenos.agents.orchestrator" in _modules()
    assert "gardenos.agents.queue" in _imports("gardenos.agents.orchestrator")


def test_no_import_cycles() -> None:
    assert _cycles() == [], (
        "break each cycle with a narrow interface (a Protocol, a callback, a lower module)"
    )


def test_the_lowest_layer_imports_nothing_above_it() -> None:
    offenders = sorted(
        (module, imported)
        for module in _modules()
        if _within(module, LOWEST)
        for imported in _imports(module)
        if not any(_within(imported, allowed) for allowed in LOWEST_MAY_IMPORT)
    )
    assert offenders == [], "db/ is below every subsystem: pass what it needs in (a URL, a callback)"


def _private_imports(imports: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    return {
        (module, imported)
        for module, imported_by_it in imports.items()
        for imported in imported_by_it
        if imported.rpartition(".")[2] in PRIVATE_MODULES and not _within(module, imported.rpartition(".")[0])
    }


def test_the_private_module_rule_can_fail() -> None:
    # A package's own repository is its business; another package's is a finding (with no allowlist
    # left, this keeps the rule from passing because it found nothing to look at).
    assert "gardenos.crm.activities.repository" in _imports("gardenos.crm.activities.service")
    fake = {
        "gardenos.crm.leads.service": frozenset({"gardenos.crm.leads.repository"}),
        "gardenos.agents.service": frozenset({"gardenos.crm.activities.repository", "gardenos.db.pool"}),
    }
    assert _private_imports(fake) == {("gardenos.agents.service", "gardenos.crm.activities.repository")}


def test_no_domain_imports_another_domains_private_modules() -> None:
    found = _private_imports({module: _imports(module) for module in _modules()})
    assert sorted(found) == [], "call the owning package's service (or a public module of it) instead"
