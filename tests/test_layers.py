"""platform_site is the ground floor: configuration and the shared framework, importing no app of the
product. Apps hand it their pieces (dashboard figures, gauges, retention rules, readiness checks,
the tenancy admin) through its registries instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_APPS = (
    "orgs",
    "access",
    "versioning",
    "orchestration",
    "pii",
    "queries",
    "alerting",
    "chains",
    "labels",
)


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize(
    "path", sorted((ROOT / "platform_site").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_platform_site_imports_no_product_app(path):
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for line, module in _imported_modules(path)
        if module.split(".")[0] in PRODUCT_APPS
    ]
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from orgs.models import Org\n")
    assert _imported_modules(sample) == [(2, "orgs.models")]
