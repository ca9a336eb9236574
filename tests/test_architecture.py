"""Boundaries (DESIGN.md §3): engine never imports Qt; importing the app never loads torch."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6", "pyqtgraph")
HEAVY = ("torch", "diffusers", "open_clip", "transformers")


def _modules(package: str) -> list[str]:
    pkg_dir = ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(pkg_dir)], prefix=f"{package}."):
        names.append(info.name)
    return names


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_engine_modules_never_import_qt():
    mods = [m for m in _modules("engine") if not m.endswith("__main__")]
    assert len(mods) > 3
    code = (
        "import importlib, sys\n"
        f"mods = {mods!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {QT!r})\n"
        "print('QT:' + ','.join(bad))\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("QT:")][0]
    assert line == "QT:", f"engine pulled in Qt: {line}"


def test_importing_app_loads_no_torch():
    mods = [m for m in _modules("app") if m.startswith(("app.", "app")) and "__main__" not in m]
    code = (
        "import importlib, sys\n"
        f"mods = {mods!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        f"bad = sorted(k for k in sys.modules if k.split('.')[0] in {HEAVY!r})\n"
        "print('HEAVY:' + ','.join(bad))\n"
    )
    res = _run(code)
    assert res.returncode == 0, res.stderr
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("HEAVY:")][0]
    assert line == "HEAVY:", f"importing the app loaded: {line}"


def test_import_linter_contracts():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("import-linter is not installed; run ./run.sh test to set up")
    res = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr


def test_app_imports_the_engine_only_through_engine_api():
    """Every import of the engine anywhere in app/ (module level or inside functions) is of
    ``engine.api`` — the one surface whose heavy parts load on first use."""
    import ast

    bad = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if (name == "engine" or name.startswith("engine.")) and name != "engine.api":
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, "app must import the engine through engine.api:\n" + "\n".join(bad)
    # and the test sees imports at all (a broken walk would pass vacuously)
    assert "from engine.api import" in (ROOT / "app" / "services" / "jobs.py").read_text()
