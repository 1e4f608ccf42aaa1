"""Every management command of the platform turns bad input into one line on stderr and exit status 1:
a missing or unreadable file, an unknown dataset, a bad option. Never a traceback.

The commands run as `manage.py` runs them (``execute_from_command_line``), in this process. The
table below must name every command the platform ships, so a new command gets these checks too.
"""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import pytest
from django.core.management import execute_from_command_line, get_commands

MISSING, UNREADABLE = "{tmp}/missing.csv", "{tmp}/binary.csv"

# command -> {case: arguments}; "file" cases run twice, with a missing and with an unreadable file.
# A command without a file or dataset argument has no such case.
CASES: dict[str, dict[str, list[str]]] = {
    "import_gold": {"file": ["{file}", "--dataset", "synthetic"], "dataset": ["{good}", "--dataset", "nope"]},
    "queue_questions": {"file": ["--dataset", "synthetic", "--list", "{file}"], "dataset": ["--dataset", "nope"]},
    "candidate_round": {"dataset": ["--dataset", "nope"]},
    "ingest_predictions": {"file": ["{file}", "--dataset", "synthetic"], "dataset": ["{good}", "--dataset", "nope"]},
    "related_actions": {"dataset": ["running", "--source", "wordnet", "--dataset", "nope"]},
    "fill_definitions": {"dataset": ["--vocabulary", "nope"]},
    "worker_link": {"dataset": ["alice", "--dataset", "nope"]},
    "publish_hits": {"dataset": ["--dataset", "nope", "--reward", "0.40", "--budget", "20"]},
    "review_hits": {},
    "advance_regions": {"dataset": ["--dataset", "nope"]},
    "export_regions": {"dataset": ["--dataset", "nope", "--out", "{tmp}/out"]},
    "import_region_gold": {"file": ["--dataset", "synthetic", "--csv", "{file}"],
                           "dataset": ["--dataset", "nope", "--csv", "{good}"]},
    "select_region_frames": {"dataset": ["--dataset", "nope"]},
    "create_split": {"dataset": ["--dataset", "nope", "--split", "val", "--size", "1"]},
    "export_release": {"dataset": ["--dataset", "nope"]},
    "demo": {},
    "simulate_crowd": {"file": ["--dataset", "synthetic", "--truth", "{file}", "--workers", "{good}",
                                "--report", "{tmp}/r.json"],
                       "dataset": ["--dataset", "nope", "--truth", "{good}", "--workers", "{good}",
                                   "--report", "{tmp}/r.json"]},
    "simulate_regions": {"file": ["--dataset", "synthetic", "--truth", "{file}", "--boxes", "{good}", "--workers",
                                  "{good}", "--report", "{tmp}/r.json"],
                         "dataset": ["--dataset", "nope", "--truth", "{good}", "--boxes", "{good}", "--workers",
                                     "{good}", "--report", "{tmp}/r.json"]},
    "schedule_retraining": {"dataset": ["--dataset", "nope"]},
    "create_dataset": {},
    "generate_clips": {},
    "import_videos": {"file": ["{file}", "--dataset", "synthetic"], "dataset": ["{good}", "--dataset", "nope"]},
    "load_vocabulary": {"file": ["{file}", "--dataset", "synthetic"], "dataset": ["{good}", "--dataset", "nope"]},
    "migrate_vocabulary": {"file": ["--dataset", "synthetic", "--to", "{file}"],
                           "dataset": ["--dataset", "nope", "--to", "{good}"]},
}


def _platform_commands() -> set[str]:
    return {name for name, app in get_commands().items() if app.startswith("backend.")}


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", *argv])
    return exit_info.value.code, out.getvalue(), err.getvalue()


def _runs():
    for command, cases in sorted(CASES.items()):
        yield command, "bad option", ["--no-such-option", "1"]
        if "dataset" in cases:
            yield command, "unknown dataset", cases["dataset"]
        if "file" in cases:
            yield command, "missing file", [a.replace("{file}", MISSING) for a in cases["file"]]
            yield command, "unreadable file", [a.replace("{file}", UNREADABLE) for a in cases["file"]]


def test_the_table_names_every_command():
    assert set(CASES) == _platform_commands()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("command", "case", "args"), list(_runs()), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_one_line_and_exit_1(command, case, args, dataset, tmp_path, settings):
    settings.MMIT_IMPORT_ROOTS = [tmp_path]
    good = tmp_path / "good.csv"
    good.write_text("video,action,truth\nclip.mp4,jumping,yes\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81 not text \xc3\x28\n" * 20)
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{good}", str(good)) for a in args]
    code, out, err = _run([command, *argv])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (case, out, err)
    assert len(lines) == 1 and lines[0].startswith("CommandError: "), err
    assert "Traceback" not in err + out
    if case == "unknown dataset":
        assert "nope" in lines[0]
    if case == "missing file":
        assert "missing.csv" in lines[0]
