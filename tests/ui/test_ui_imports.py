"""What the app may import (read from the source, imports inside functions too): tlcore only through its facade
and its step packages (``tlcore.runs``, ``tlcore.compare.checks``, ...), never a module inside one, so that the
library can move its modules without breaking a page; and never torch, transformers or peft, which stay in the
worker processes."""
from __future__ import annotations

import ast
from pathlib import Path

import tlcore

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py")), *sorted((ROOT / "tlui").glob("*.py"))]
PACKAGE = Path(tlcore.__file__).resolve().parent
ML_FRAMEWORKS = {"torch", "transformers", "peft"}


def _is_package(dotted: str) -> bool:
    """``tlcore`` or a folder of it with an __init__.py (``tlcore.runs``, ``tlcore.compare.checks``)."""
    parts = dotted.split(".")
    return parts[0] == "tlcore" and (PACKAGE.joinpath(*parts[1:]) / "__init__.py").exists()


def _is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "tlcore" and len(parts) > 1 and PACKAGE.joinpath(*parts[1:]).with_suffix(".py").exists()


def _dotted(node: ast.AST) -> str | None:
    """'tlcore.use.export.export_kind' for that attribute chain; None for anything else."""
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(names)]) if isinstance(node, ast.Name) else None


def offences(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in ML_FRAMEWORKS or (top == "tlcore" and not _is_package(alias.name)):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            top = module.split(".")[0]
            if top in ML_FRAMEWORKS or (top == "tlcore" and not _is_package(module)):
                found.append(f"line {node.lineno}: from {module} import ...")
            elif top == "tlcore":
                found += [f"line {node.lineno}: from {module} import {alias.name} (a module)" for alias in node.names
                          if _is_module(f"{module}.{alias.name}")]
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            dotted = _dotted(node)
            if dotted and dotted.startswith("tlcore.") and _is_module(dotted):
                found.append(f"line {node.lineno}: {dotted} (a module)")
    return found


def test_the_app_uses_tlcore_through_its_packages_and_no_ml_framework():
    """Pages only lay out widgets and call tlcore: torch, transformers and peft stay in the workers."""
    assert len(APP_FILES) > 10
    problems = {path.relative_to(ROOT).as_posix(): offences(path) for path in APP_FILES}
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_rule_finds_what_it_forbids(tmp_path):
    bad = tmp_path / "page.py"
    bad.write_text("import torch\nfrom transformers import AutoModel\nimport tlcore.runs.store\n"
                   "from tlcore.compare import comparison\nfrom tlcore.use.export import export_kind\n"
                   "import tlcore\nkind = tlcore.use.export.export_kind('lora')\n"
                   "from tlcore.runs import RunStore\nfrom tlcore.compare import checks\nfrom tlcore import runs\n")
    assert offences(bad) == ["line 1: import torch", "line 2: from transformers import ...",
                             "line 3: import tlcore.runs.store",
                             "line 4: from tlcore.compare import comparison (a module)",
                             "line 5: from tlcore.use.export import ...", "line 7: tlcore.use.export (a module)"]
