"""Property tests: any bytes in a user-supplied file give a clear DomainError or a valid result,
never another exception and never a partial write."""
from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.common.errors import DomainError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
rows = st.lists(st.lists(cells, min_size=0, max_size=5), max_size=8)
raw = st.binary(max_size=400)


def _csv(header, body) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue().encode("utf-8")


@FAST
@given(body=rows, header=st.sampled_from([["path", "split", "labels"], ["path", "labels"], ["x"], []]), junk=raw,
       use_junk=st.booleans())
@pytest.mark.django_db
def test_manifest(tmp_path_factory, body, header, junk, use_junk):
    import uuid

    from backend.labels.models import Label
    from backend.videos.models import Video
    from backend.videos.services import dataset_create, video_import

    ds = dataset_create(name=f"m-{uuid.uuid4().hex[:12]}")  # examples share the test's database
    folder = tmp_path_factory.mktemp("manifest")
    path = folder / "m.csv"
    path.write_bytes(junk if use_junk else _csv(header, body))
    try:
        report = video_import(dataset=ds, source=str(path))
    except DomainError:
        assert not Video.objects.filter(dataset=ds).exists() and not Label.objects.filter(dataset=ds).exists()
    else:
        # whatever was accepted became rows: every file is imported or quarantined with a reason
        assert report.seen == Video.objects.filter(dataset=ds).count()
        assert all(v.quarantine_reason for v in Video.objects.filter(dataset=ds, status="quarantined"))


@FAST
@given(body=rows, header=st.sampled_from([["video", "actions"], ["video"], ["a", "b"]]), junk=raw, use_junk=st.booleans())
def test_truth_file(tmp_path_factory, body, header, junk, use_junk):
    from backend.simulation.truth import load_truth

    path = tmp_path_factory.mktemp("truth") / "t.csv"
    path.write_bytes(junk if use_junk else _csv(header, body))
    try:
        truth = load_truth(path)
    except DomainError:
        return
    assert truth and all(isinstance(v, set) for v in truth.values())


@FAST
@given(text=st.text(max_size=300), junk=raw, use_junk=st.booleans())
def test_workers_file(tmp_path_factory, text, junk, use_junk):
    from backend.simulation.population import load_groups

    path = tmp_path_factory.mktemp("workers") / "w.json"
    path.write_bytes(junk if use_junk else text.encode())
    try:
        groups = load_groups(path)
    except DomainError:
        return
    assert all(0 <= g.sensitivity <= 1 and g.count >= 0 for g in groups)


@FAST
@given(lines=st.lists(cells, max_size=10), junk=raw, use_junk=st.booleans())
def test_vocabulary_file(tmp_path_factory, lines, junk, use_junk):
    from backend.vocabulary.names import read_vocabulary_file

    path = tmp_path_factory.mktemp("vocab") / "v.txt"
    path.write_bytes(junk if use_junk else "\n".join(lines).encode())
    try:
        names = read_vocabulary_file(path)
    except (DomainError, UnicodeDecodeError) as exc:
        assert not isinstance(exc, UnicodeDecodeError), "binary vocabulary files must be a DomainError"
        return
    assert names and all(";" not in n and "," not in n for n in names)


@FAST
@given(body=rows, header=st.sampled_from([["path", "rank", "action", "score"], ["path", "action"], ["x"]]), junk=raw,
       use_junk=st.booleans())
@pytest.mark.django_db
def test_predictions_file(tmp_path_factory, dataset, body, header, junk, use_junk):
    from backend.candidates.models import Prediction
    from backend.candidates.services.predictions import predictions_ingest

    path = tmp_path_factory.mktemp("pred") / "p.csv"
    path.write_bytes(junk if use_junk else _csv(header, body))
    try:
        predictions_ingest(dataset=dataset, path=path)
    except DomainError:
        assert not Prediction.objects.exists()
