"""The shape of the house: what installs, what imports what, how large a module is.

- Installing newsbeam adds exactly the design card's three import packages,
  `pipelines`, `transforms` and `schemas` (with their sub-packages): the
  package discovery of pyproject.toml is run on a copy of the checkout, offline.
- No import circle among the modules of those packages, counting the imports
  inside functions too (a circle kept apart by a local import is still one).
- No private (underscore) name imported from another module of the package.
- No module of the package over 400 lines; no `Reject` built positionally.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

from tests.conftest import REPO

PACKAGES = ("pipelines", "transforms", "schemas")
MAX_LINES = 400
# Not copied for the packaging check: environments, outputs, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "out", "site", "build", "dist",
                                    "*.egg-info", "__pycache__", ".pytest_cache", ".cache")


def package_modules() -> Dict[str, Path]:
    """Dotted module name -> file, for every module of the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_modules(path: Path, name: str, modules: Dict[str, Path]) -> Set[str]:
    """The package's modules that the file imports, anywhere in it.

    ``from a.b import c`` is an import of ``a.b.c`` when that is a module,
    else of ``a.b``; relative imports are resolved against the file's package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> Dict[str, Set[str]]:
    modules = package_modules()
    return {name: imported_modules(path, name, modules) for name, path in modules.items()}


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_no_private_name_is_imported_from_another_module():
    modules = package_modules()
    private = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                private += [f"{name}: {node.module}.{alias.name}" for alias in node.names
                            if alias.name.startswith("_")]
    assert private == []


def test_no_module_is_over_400_lines():
    long = {name: lines for name, path in package_modules().items()
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_installing_adds_only_the_three_packages(tmp_path):
    """What setuptools would put in the wheel: its own package discovery, run on
    a copy of the checkout (tests, benchmarks, docs and deploy included, as
    decoys), offline, into a temporary folder."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=NOT_COPIED)
    built = tmp_path / "lib"
    result = subprocess.run([sys.executable, "setup.py", "--quiet", "build_py",
                             "--build-lib", str(built)],
                            cwd=checkout, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"build_py failed:\n{result.stderr[-2000:]}")
    top_level = {path.name for path in built.iterdir()}
    assert top_level == set(PACKAGES)
    built_modules = {".".join(p.relative_to(built).with_suffix("").parts)
                     for p in built.rglob("*.py")}
    source_modules = {".".join(p.relative_to(REPO).with_suffix("").parts)
                      for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    assert built_modules == source_modules, "every module of the three packages is installed"


def test_every_reject_is_built_by_keyword():
    """A field moved in `schemas.records.Reject` must not shift values silently."""
    positional = []
    for name, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "Reject" and node.args:
                positional.append(f"{name}:{node.lineno}")
    assert positional == []


@pytest.mark.parametrize("room", ["sources", "extract", "dedup", "enrich", "sink", "core"])
def test_each_room_says_what_it_is_for_and_its_public_names_resolve(room):
    import importlib
    module = importlib.import_module(f"transforms.{room}")
    assert module.__doc__ and module.__doc__.strip()
    assert module.__all__, f"transforms.{room} lists no public name"
    for name in module.__all__:
        assert getattr(module, name) is not None


ROOMS = ["sources", "extract", "dedup", "enrich", "sink", "core"]


def public_composites():
    """Every `PTransform` class a room lists in `__all__`, with its own `expand`."""
    import importlib

    import apache_beam as beam
    found = {}
    for room in ROOMS:
        module = importlib.import_module(f"transforms.{room}")
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, beam.PTransform) \
                    and "expand" in vars(value):
                found[f"transforms.{room}.{name}"] = value
    return found


def returned_values(function) -> List[ast.expr]:
    """The values `function` returns, not counting functions nested in it."""
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    values, todo = [], list(ast.iter_child_nodes(tree.body[0]))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            values.append(node.value)
        todo.extend(ast.iter_child_nodes(node))
    return values


def output_convention(value: ast.expr, namespace: dict) -> str:
    """How one ``return`` of an `expand` hands on its outputs: a NamedTuple's name,
    ``one`` (a single collection), or what it is instead (``tuple``, ``dict``, ...)."""
    if isinstance(value, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
        return type(value).__name__.lower()
    outer = value.right if isinstance(value, ast.BinOp) else value
    if isinstance(outer, ast.Call) and isinstance(outer.func, ast.Attribute) \
            and outer.func.attr == "with_outputs":
        return "tagged result"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        called = namespace.get(value.func.id)
        if isinstance(called, type) and issubclass(called, tuple):
            return called.__name__ if hasattr(called, "_fields") else "tuple"
    if isinstance(value, ast.Name):
        return "a name (return the NamedTuple itself)"
    return "one"


def test_every_public_composite_with_several_outputs_returns_a_named_tuple():
    """One convention for a step's several outputs: a NamedTuple, named in the
    docstring (not a tuple, a dict or Beam's tagged result)."""
    composites = public_composites()
    assert {"transforms.sources.ReadDumps", "transforms.extract.ExtractArticles",
            "transforms.dedup.Deduplicate", "transforms.dedup.StreamDeduplicate",
            "transforms.core.ProcessDocuments"} <= set(composites)
    wrong = []
    for name, cls in composites.items():
        namespace = vars(sys.modules[cls.__module__])
        for value in returned_values(cls.expand):
            convention = output_convention(value, namespace)
            if convention == "one":
                continue
            if not convention[0].isupper():
                wrong.append(f"{name}: returns a {convention}")
            elif convention not in (cls.__doc__ or ""):
                wrong.append(f"{name}: its docstring does not name {convention}")
    assert wrong == []


def test_the_output_convention_check_sees_a_plain_tuple_and_a_tagged_result():
    tuple_return, tagged, named, one = (ast.parse(code).body[0].value for code in (
        "a, b", "x | beam.ParDo(f).with_outputs('r', main='m')", "Skipped(a, b)", "x | y"))
    from schemas.contexts import Skipped
    assert output_convention(tuple_return, {}) == "tuple"
    assert output_convention(tagged, {}) == "tagged result"
    assert output_convention(named, {"Skipped": Skipped}) == "Skipped"
    assert output_convention(one, {}) == "one"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> Set[str]:
    """The runtime dependencies of pyproject.toml that the three packages import."""
    import tomllib
    from importlib import metadata

    declared = {_canonical(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0])
                for spec in tomllib.loads((REPO / "pyproject.toml").read_text(
                    encoding="utf-8"))["project"]["dependencies"]}
    top_level = set()
    for path in package_modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                top_level.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                top_level.add(node.module.split(".")[0])
    found = set()
    for module, dists in metadata.packages_distributions().items():
        if module in top_level:
            found.update(_canonical(d) for d in dists if _canonical(d) in declared)
    return found


def test_the_manifest_names_the_version_of_every_dependency_the_pipeline_imports():
    from pipelines.runs import versions

    listed = {_canonical(name) for name in versions()}
    imported = imported_distributions()
    assert {"apache-beam", "trafilatura", "babel"} <= imported  # the finder finds them
    assert sorted(imported - listed) == []
