"""Every package our code imports is declared where it is imported: `src/` in the runtime dependencies,
`tests/` and `bench/` in the runtime dependencies or the dev group. Read from the source, so that a runtime
import that only a dev tool (or another package's dependency) happens to bring fails here."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).parents[2]
# Importable names that are ours, or not distributions at all.
OWN = {"gardenos", "tests", "bench", "__future__"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_normalise(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


@cache
def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _names(project["project"]["dependencies"]), _names(project["dependency-groups"]["dev"])


def _third_party_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level module name → the files that import it, for every import outside the standard library."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _undeclared(folder: Path, allowed: set[str]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, files in sorted(_third_party_imports(folder).items()):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions & allowed:
            problems.append(f"{module} (from {', '.join(sorted(distributions)) or '?'}) in {sorted(files)}")
    return problems


def test_src_imports_only_runtime_dependencies() -> None:
    runtime, _ = _declared()
    assert _undeclared(ROOT / "src", runtime) == [], "declare these in [project] dependencies"


def test_tests_and_bench_import_only_declared_packages() -> None:
    runtime, dev = _declared()
    for folder in ("tests", "bench"):
        assert _undeclared(ROOT / folder, runtime | dev) == [], f"declare these ({folder}/) in the dev group"
