"""The dependency rules of README "Layout" hold: import-linter's contracts (pyproject.toml) are kept.

app shell (hotline.app) -> packages -> ticketing -> core (the rest of hotline); telephony and
agent_console never import each other; no import cycles between the modules of a package.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("hotline", "ticketing", "routing", "telephony", "agent_console", "knowledge", "supervision", "messaging",
            "open311", "portal")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    assert LINT_IMPORTS.exists(), "lint-imports is missing: run `make install` (requirements-dev.txt)"
    # PYTHONPATH=cwd: the packages are analysed from that tree, not from the editable install
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout, result.stdout


def test_the_core_layer_names_every_core_module():
    """The core layer lists hotline's modules one by one (the shell hotline.app is a subpackage of
    hotline, so "hotline" itself cannot be a layer): a new core module must join that list."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    listed = {name.strip() for name in layers[-1].split(":")}
    core = {f"hotline.{p.stem}" for p in (ROOT / "hotline").glob("*.py") if p.stem != "__init__"}
    core |= {f"hotline.{p.parent.name}" for p in (ROOT / "hotline").glob("*/__init__.py")} - {"hotline.app"}
    assert listed == core, (f"pyproject.toml's core layer must name exactly hotline's modules: add "
                            f"{sorted(core - listed)}, remove {sorted(listed - core)}")


def test_a_core_module_importing_a_package_breaks_the_run(tmp_path):
    """The check can fail: a copy of the tree whose core imports ticketing is refused."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "data", "*.wav"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    identity = tmp_path / "hotline" / "identity.py"
    identity.write_text(identity.read_text() + "\nfrom ticketing import models  # noqa: E402\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "hotline.identity is not allowed to import ticketing" in result.stdout, result.stdout
