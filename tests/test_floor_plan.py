"""The floor plan is executable: the import contracts hold, and they say what the plan says.

`make test` runs `lint-imports` before the suite; this test runs the same contracts through
import-linter's API, so a plain `pytest` fails on a stair that runs the wrong way too, and it
checks that nobody quietly weakened a contract (an app left out, an exception added).
"""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
APPS = sorted(p.parent.name for p in (REPO / "backend").glob("*/__init__.py"))


def _contract(contract_id: str) -> dict:
    return next(c for c in CONFIG["contracts"] if c["id"] == contract_id)


def test_the_contracts_are_kept():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in done.stdout


def test_every_app_has_a_floor_and_no_rule_has_exceptions():
    floors = _contract("floors")
    named = sorted(name.strip() for layer in floors["layers"] for name in layer.replace("|", ":").split(":"))
    assert named == APPS and floors["exhaustive"] is True
    assert floors["layers"][-1] == "common" and floors["layers"][0] == "config"
    assert not any("ignore_imports" in c for c in CONFIG["contracts"])
    assert CONFIG.get("exclude_type_checking_imports", False) is False  # TYPE_CHECKING imports count


def test_the_forbidden_stairs():
    assert set(_contract("common")["forbidden_modules"]) == {f"backend.{a}" for a in APPS if a != "common"}
    assert set(_contract("backend-down")["forbidden_modules"]) == {"workers", "ml"}
    assert {"django", "backend", "workers"} <= set(_contract("ml-alone")["forbidden_modules"])
    assert _contract("no-cycles")["ancestors"] == ["backend"]
