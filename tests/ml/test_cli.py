"""The command-line tools of ``ml``: ``--help`` shows every default, loader workers fit the cores,
and the tiny CPU command that opens ``ml/README.md`` runs as written."""
from __future__ import annotations

import argparse
import csv
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ml import cli

TOOLS = ("train", "evaluate", "predict", "mcam", "netdissect", "probe_unit", "synthetic")
ROOT = Path(__file__).resolve().parents[2]


def _parser(tool: str) -> argparse.ArgumentParser:
    parser = importlib.import_module(f"ml.{tool}").build_parser()
    assert parser.formatter_class is cli.DefaultsHelpFormatter, tool
    return parser


@pytest.mark.parametrize("tool", TOOLS)
def test_help_shows_the_default_of_every_option_that_has_one(tool, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no default split by wrapping
    parser = _parser(tool)
    text = parser.format_help()
    lines: dict[str, str] = {}  # option -> its block of help (the help may start on the next line)
    option = None
    for line in text.splitlines():
        if line.startswith("  -"):
            option = line.strip().split()[0].rstrip(",")
            lines[option] = line
        elif option and line.startswith("    "):
            lines[option] += " " + line.strip()
        else:
            option = None
    checked = 0
    for action in parser._actions:
        if not action.option_strings or action.option_strings[0] == "-h":
            continue
        line = lines[action.option_strings[0]]
        if action.nargs == 0 or action.default is None:
            assert "(default: " not in line or "(default: " in (action.help or ""), line  # flags: none
        else:
            assert f"(default: {action.default})" in line, line
            checked += 1
    assert checked >= 1


def test_flags_and_required_options_show_no_default(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    text = _parser("predict").format_help()
    assert re.search(r"--no-progress\s*$", text, re.M)
    assert "(default: None)" not in text and "(default: False)" not in text


@pytest.mark.parametrize("cores, local, expected", [(1, None, 1), (2, None, 2), (3, None, 3), (16, None, 4),
                                                     (16, "8", 2), (2, "8", 1)])
def test_loader_workers_default_to_at_most_the_cores(monkeypatch, cores, local, expected):
    monkeypatch.setattr(cli, "available_cores", lambda: cores)
    if local is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local)
    assert cli.default_workers() == expected


@pytest.mark.parametrize("tool", ("train", "evaluate", "predict", "netdissect"))
def test_each_tool_takes_that_default(tool, monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    workers = next(a for a in _parser(tool)._actions if a.dest == "workers")
    assert workers.default == cli.default_workers() <= cli.available_cores()


def _readme_first_commands() -> list[str]:
    text = (ROOT / "ml" / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.slow
def test_the_readme_opens_with_a_tiny_cpu_run_that_works_as_written(tmp_path):
    commands = _readme_first_commands()
    assert [c.split()[2] for c in commands] == ["ml.synthetic", "ml.train", "ml.predict"]
    for command in commands:
        argv = [sys.executable if a == "python" else a.replace("/tmp/", f"{tmp_path}/")
                for a in shlex.split(command)]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "UserWarning" not in done.stderr  # no loader worker warning on a small machine
    run = tmp_path / "tiny-run"
    assert {"best.pt", "metrics.png", "eval.json"} <= {p.name for p in run.iterdir()}
    rows = list(csv.DictReader(open(run / "predictions.csv")))
    assert len({r["path"] for r in rows}) == 24 and {r["rank"] for r in rows} == {"1", "2", "3", "4"}
