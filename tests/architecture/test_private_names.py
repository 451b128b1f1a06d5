"""No module of the product reaches into a library's private names outside its compatibility module.

Three ways code leans on a library's internals, each found from the source (ast) and the classes at run time:
importing a private module (`from llama_cpp._logger import ...`), overriding a library class's private method
(`def _merge_url` in a subclass of httpx2's client), and reading a private attribute that fanout itself never
defines (`footer._bindings_ready`). Each is allowed only in a module named `compat*`, which checks at import that
what it relies on exists and falls back when it does not (tests/providers/test_compat.py, tests/tui/test_tui_compat.py).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

PACKAGES = ["fanout.cli", "fanout.core", "fanout.providers", "fanout.strategies", "fanout.stores",
            "fanout.frontends", "fanout.wiring", "fanout.tui"]
PUBLIC_BY_CONVENTION = {"_fields", "_replace", "_asdict", "_make"}  # namedtuple's documented API


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(tree: ast.AST) -> list[str]:
    return [node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
            and node.module.split(".")[0] != "fanout" and any(map(_private, node.module.split(".")[1:]))]


def private_overrides(module: types.ModuleType, tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        cls = getattr(module, node.name, None) if isinstance(node, ast.ClassDef) else None
        if not inspect.isclass(cls):
            continue
        methods = [item.name for item in node.body
                   if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _private(item.name)]
        for name in methods:
            owners = [base for base in cls.__mro__[1:]
                      if not base.__module__.startswith("fanout") and name in vars(base)]
            if owners:
                found.append(f"{node.name}.{name} overrides {owners[0].__module__}")
    return found


def defined_names(trees: list[ast.AST]) -> set[str]:
    names = set(PUBLIC_BY_CONVENTION)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return names


def foreign_private_reads(tree: ast.AST, ours: set[str]) -> list[str]:
    return [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ours]


def product() -> list[tuple[types.ModuleType, ast.AST]]:
    modules = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        modules.append(root)
        modules += [importlib.import_module(info.name) for info in pkgutil.walk_packages(root.__path__, package + ".")]
    return [(m, ast.parse(Path(m.__file__).read_text(encoding="utf-8"))) for m in modules]


def checked(modules: list[tuple[types.ModuleType, ast.AST]]) -> list[tuple[types.ModuleType, ast.AST]]:
    return [(m, tree) for m, tree in modules if not m.__name__.rsplit(".", 1)[-1].startswith("compat")]


def test_no_private_module_of_a_library_is_imported():
    assert {m.__name__: found for m, tree in checked(product()) if (found := private_imports(tree))} == {}


def test_no_private_method_of_a_library_class_is_overridden():
    assert {m.__name__: found for m, tree in checked(product()) if (found := private_overrides(m, tree))} == {}


def test_no_private_attribute_that_fanout_does_not_define_is_read():
    modules = product()
    ours = defined_names([tree for _, tree in modules])
    assert {m.__name__: found for m, tree in checked(modules) if (found := foreign_private_reads(tree, ours))} == {}


def test_the_checks_find_each_thing_they_forbid():
    """Positive control: a module doing each forbidden thing, run through the same three checks."""
    source = (
        "import httpx2\n"
        "from textual._compositor import Compositor\n"
        "class Client(httpx2.AsyncClient):\n"
        "    def _merge_url(self, url):\n"
        "        return footer._bindings_ready\n"
    )
    module = types.ModuleType("fanout.tui.widgets.example")
    exec(compile(source, "example.py", "exec"), module.__dict__)
    tree = ast.parse(source)
    assert private_imports(tree) == ["textual._compositor"]
    assert private_overrides(module, tree) == ["Client._merge_url overrides httpx2._client"]
    assert foreign_private_reads(tree, defined_names([tree])) == ["line 5: ._bindings_ready"]
    assert checked([(module, tree)]) and not checked([(types.ModuleType("fanout.tui.compat"), tree)])
