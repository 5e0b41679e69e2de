"""The package's shape (ARCHITECTURE.md): no import cycles, methods own their logic, no streamlit below the pages.

Imports are read from the source (every ``import`` statement, those inside functions too), so a cycle that only
works because of the order in which modules happen to be imported is caught before it breaks.
"""
from __future__ import annotations

import ast
from pathlib import Path

import tlcore

PACKAGE = Path(tlcore.__file__).resolve().parent
ROOT = PACKAGE.parent
METHODS = PACKAGE / "methods"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """The tlcore modules ``path`` imports, resolved to module names (``from .x import name`` → the module x, or
    the module x.name when name is a module)."""
    module = _module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    found.add(f"{target}.{alias.name}")
                elif target in MODULES:
                    found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
    found.discard(module)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_module_of_tlcore_takes_part_in_an_import_cycle():
    graph = {module: _imports(path) for module, path in MODULES.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _string_constants(path: Path) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_no_module_outside_methods_names_a_method_or_imports_one():
    """A method owns its logic: elsewhere, code reads the method's attributes instead of switching on its name
    or class, so adding a method is one new module in tlcore/methods plus a row in the method test table."""
    names = {entry.name for entry in tlcore.list_methods()}
    # the method modules themselves (not the registry and the helpers every method shares)
    method_modules = {_module_name(path) for path in METHODS.glob("*.py")} - {
        "tlcore.methods", "tlcore.methods.base", "tlcore.methods.advice", "tlcore.methods.export_snippets",
        "tlcore.methods.label_vectors", "tlcore.methods.score_offsets"}
    offenders = []
    for module, path in MODULES.items():
        if path.is_relative_to(METHODS):
            continue
        named = sorted(text for text in _string_constants(path)
                       if text in names or (", " not in text and "," in text  # a list such as "zero-shot,lora"
                                            and set(text.split(",")) <= names))
        imported = sorted(_imports(path) & method_modules)
        if named or imported:
            offenders.append(f"{module}: names {named}, imports {imported}")
    assert offenders == []


def test_tlcore_never_imports_streamlit():
    offenders = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(name.split(".")[0] == "streamlit" for name in names):
                offenders.append(module)
    assert offenders == []
