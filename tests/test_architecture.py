"""The house rules of issue #21, checked on the source (no timing, no network).

* the layer contract and "no cycles between siblings" (import-linter, the
  contracts in ``pyproject.toml``);
* no import cycle between any two forestsink modules at all, a package's
  ``__init__`` and its own submodules included (grimp's graph, every import
  counted, those inside functions too);
* no module over 900 lines, no function over 120;
* no import of another package's private (``_name``) module member;
* every exception and warning class defined in ``forestsink/errors.py``,
  each also a builtin's subclass besides ``ForestsinkError``;
* lazy imports only for the optional heavy dependencies, each marked.

Each rule has a negative check beside it: the checker is run on a small
package written to a temporary folder that breaks the rule, and must
complain (so a checker that finds nothing because it looks at nothing fails).
"""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "forestsink"

MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 120
#: Third-party packages that may be imported inside a function (optional or
#: heavy; ``import forestsink`` must not load them).
OPTIONAL_HEAVY = {
    "folium",
    "folium_offline",
    "branca",
    "matplotlib",
    "mpl_toolkits",
    "psycopg",
    "psycopg_pool",
    "dask",
    "distributed",
    "selenium",
    "fiona",
    "uvicorn",
    "pandera",  # validates the shipped tables on first use; slow to import
}
LAZY_MARK = "# noqa: PLC0415 (optional heavy dependency)"


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_cycles(package: str) -> list[list[str]]:
    """Strongly connected groups of modules importing each other (size > 1)."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(m: str) -> None:
        index[m] = low[m] = counter[0]
        counter[0] += 1
        stack.append(m)
        on_stack.add(m)
        for n in graph.find_modules_directly_imported_by(m):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                group.append(n)
                if n == m:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for m in modules:
        if m not in index:
            visit(m)
    return groups


def long_code(root: Path) -> list[str]:
    """Modules over the line limit and functions over theirs."""
    out = []
    for name, path in sorted(_modules(root).items()):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            out.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    out.append(f"{name}.{node.name}: {length} lines")
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(root: Path) -> list[str]:
    """``from pkg.mod import _name`` where ``pkg`` is not the importer's package."""
    out = []
    top = root.name
    for name, path in sorted(_modules(root).items()):
        is_package = path.name == "__init__.py"
        own_package = name if is_package else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _resolve(name, is_package, node)
            if not target.startswith(top):
                continue
            target_package = target.rsplit(".", 1)[0] if "." in target else target
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                same = own_package in (target_package, target)
                if private and not same:
                    out.append(f"{name}:{node.lineno} imports {target}.{alias.name}")
    return out


_BUILTIN_BASES = {
    name
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, BaseException)
}


def stray_exceptions(root: Path) -> list[str]:
    """Exception or warning classes defined outside ``errors.py``."""
    errors = _exception_names(root / "errors.py")
    out = []
    for name, path in sorted(_modules(root).items()):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                    for b in node.bases
                }
                if bases & (_BUILTIN_BASES | errors):
                    out.append(f"{name}.{node.name}")
    return out


def _exception_names(errors_py: Path) -> set[str]:
    if not errors_py.is_file():
        return set()
    return {
        n.name
        for n in ast.walk(ast.parse(errors_py.read_text(encoding="utf-8")))
        if isinstance(n, ast.ClassDef)
    }


def lazy_imports(root: Path) -> list[str]:
    """Imports inside functions that are not marked optional heavy dependencies."""
    out = []
    for name, path in sorted(_modules(root).items()):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    targets = [node.module or ""] if not node.level else [root.name]
                heavy = all(t.split(".")[0] in OPTIONAL_HEAVY for t in targets)
                marked = LAZY_MARK in lines[node.lineno - 1] or (
                    node.end_lineno and LAZY_MARK in lines[node.end_lineno - 1]
                )
                if not (heavy and marked):
                    out.append(f"{name}:{node.lineno} {', '.join(targets)}")
    return out


# --- the rules on forestsink ---------------------------------------------


def test_layer_and_sibling_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out[out.find("Broken contracts") :][:4000]


def test_no_import_cycles_at_all():
    assert import_cycles("forestsink") == []


def test_modules_and_functions_are_short():
    assert long_code(PACKAGE) == []


def test_no_private_names_imported_across_packages():
    assert private_imports(PACKAGE) == []


def test_every_exception_lives_in_errors_py():
    assert stray_exceptions(PACKAGE) == []


def test_every_error_is_also_a_builtin_error():
    import forestsink.errors as errors_module

    for obj in vars(errors_module).values():
        if isinstance(obj, type) and issubclass(obj, errors_module.ForestsinkError):
            if obj is errors_module.ForestsinkError:
                continue
            builtin = [
                b
                for b in obj.__mro__
                if b.__module__ == "builtins"
                and b not in (object, BaseException, Exception)
            ]
            assert builtin, f"{obj.__name__} refines no builtin error"


def test_lazy_imports_only_for_marked_optional_dependencies():
    assert lazy_imports(PACKAGE) == []


def test_import_forestsink_loads_no_heavy_dependency():
    import subprocess

    code = (
        "import sys, forestsink; heavy = {m.split('.')[0] for m in sys.modules} & "
        f"set({sorted(OPTIONAL_HEAVY)!r}); print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# --- each checker catches what it is there for -----------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checkers_catch_a_broken_package(tmp_path, monkeypatch):
    pkg = (
        _write(
            tmp_path,
            {
                "badpkg/__init__.py": "from badpkg.a import f\n",
                "badpkg/a.py": (
                    "from badpkg.sub.b import _hidden\n\n\n"
                    "def f():\n    import json\n    return json\n"
                ),
                "badpkg/sub/__init__.py": "",
                "badpkg/sub/b.py": (
                    "import badpkg\n\n\nclass Oops(ValueError):\n    pass\n\n\n"
                    "def _hidden():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES + 1)
                ),
                "badpkg/errors.py": "class Fine(Exception):\n    pass\n",
            },
        )
        / "badpkg"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cycles = import_cycles("badpkg")
    assert any({"badpkg", "badpkg.a", "badpkg.sub.b"} <= set(c) for c in cycles)
    assert any("_hidden" in line for line in long_code(pkg))
    assert private_imports(pkg) == ["badpkg.a:1 imports badpkg.sub.b._hidden"]
    assert stray_exceptions(pkg) == ["badpkg.sub.b.Oops"]
    assert lazy_imports(pkg) == ["badpkg.a:5 json"]


@pytest.mark.parametrize("marked", [True, False])
def test_lazy_import_of_an_optional_dependency_needs_the_mark(tmp_path, marked):
    mark = f"  {LAZY_MARK}" if marked else ""
    pkg = (
        _write(
            tmp_path,
            {"p/__init__.py": f"def f():\n    import folium{mark}\n    return 1\n"},
        )
        / "p"
    )
    assert (lazy_imports(pkg) == []) is marked


def test_every_exported_function_documents_its_parameters():
    import inspect

    import forestsink

    missing = []
    for name in forestsink.__all__:
        obj = getattr(forestsink, name)
        if not inspect.isfunction(obj):
            continue
        params = list(inspect.signature(obj).parameters)
        doc = inspect.getdoc(obj) or ""
        if params and "Parameters\n----------" not in doc:
            missing.append(name)
    assert missing == []


def test_no_bare_root_class_raises():
    """Raise a specific error (``MapError``, ``StoreError`` …), never the root."""
    roots = {"ForestsinkError", "Exception", "BaseException"}
    found = []
    for name, path in sorted(_modules(PACKAGE).items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                if isinstance(func, ast.Name) and func.id in roots:
                    found.append(f"{name}:{node.lineno} raise {func.id}")
    assert found == []
