"""Writing a release directory: labels, per-split files for `ml`, vocabulary, statistics, plots,
a datasheet and a manifest of checksums.

Everything is streamed in video order (one video's labels in memory at a time), so a million
videos export in constant memory; nothing depends on the clock, so exporting twice without
changes gives byte-identical files. The directory is written under a temporary name and renamed
at the end: a crash leaves either the previous release or nothing, never half of one.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.core.files.storage import default_storage

from backend.labels.models import Label
from backend.videos.models import Dataset, Split, Video
from backend.vocabulary.models import Action, VocabularyEvent

DECIDED = (Label.State.POSITIVE, Label.State.NEGATIVE, Label.State.AMBIGUOUS)
# `provenance`: who decided the state: `crowd` (the answers), `import` (a trusted manifest) or `corrected` (a curator).
LABEL_COLUMNS = ["video", "path", "split", "action", "state", "yes", "no", "confidence", "source", "provenance"]
# The per-split files `ml` reads: verified positives and verified negatives (the crowd's No), ';'-separated.
SPLIT_COLUMNS = ["path", "labels", "negatives"]
CHUNK = 20_000


@dataclass
class ExportResult:
    out_dir: Path
    stats: dict
    manifest: dict
    content_hash: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _writer(path: Path, header: list[str]):
    f = open(path, "w", newline="", encoding="utf-8")
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header)
    return f, w


def release_write(*, dataset: Dataset, out_dir: Path, with_media: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> ExportResult:
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # left by a crashed export: start again
    tmp.mkdir(parents=True)

    actions = list(Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).order_by("name"))
    with open(tmp / "vocabulary.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["index", "name", "display_name"])
        for i, a in enumerate(actions):
            w.writerow([i, a.name, a.display_name])

    rows = (
        Label.objects.filter(dataset=dataset, state__in=DECIDED, action__status=Action.Status.ACTIVE,
                             video__status=Video.Status.OK)
        .order_by("video_id", "action__name")
        .values_list("video_id", "video__name", "video__storage_key", "video__split", "action__name", "state",
                     "yes_count", "no_count", "confidence", "source", "corrected")
    )
    total = rows.count()
    labels_f, labels_w = _writer(tmp / "labels.csv", LABEL_COLUMNS)
    split_files = {s: _writer(tmp / f"{s}.csv", SPLIT_COLUMNS) for s in Split.values}
    per_class = {s: Counter() for s in Split.values}
    per_video_counts = {s: Counter() for s in Split.values}
    states, sources, source_yes = Counter(), Counter(), Counter()
    media: list[str] = []
    current, current_key, current_split, positives, negatives = None, None, None, [], []

    def flush():
        # A video is listed when it has a positive (as before negatives were exported): the
        # statistics count these videos, and the metrics leave videos without positives out.
        if current is None or not positives:
            return
        split_files[current_split][1].writerow([current_key, ";".join(positives), ";".join(negatives)])
        per_video_counts[current_split][len(positives)] += 1
        if with_media:
            media.append(current_key)

    done = 0
    for vid, name, key, split, action, state, yes, no, conf, source, corrected in rows.iterator(chunk_size=CHUNK):
        if vid != current:
            flush()
            current, current_key, current_split, positives, negatives = vid, key, split, [], []
        provenance = "corrected" if corrected else "import" if source == Label.Source.IMPORT else "crowd"
        labels_w.writerow([name, key, split, action, state, yes, no, "" if conf is None else f"{conf:.4f}", source,
                           provenance])
        states[state] += 1
        sources[source] += 1
        if state == Label.State.POSITIVE:
            positives.append(action)
            per_class[split][action] += 1
            source_yes[source] += 1
        elif state == Label.State.NEGATIVE:
            negatives.append(action)
        done += 1
        if progress and done % CHUNK == 0:
            progress(done, total)
    flush()
    labels_f.close()
    for f, _ in split_files.values():
        f.close()

    stats = _statistics(actions, per_class, per_video_counts, states, sources, source_yes)
    stats["single_label_baseline"] = _single_label_counts(dataset, actions)
    _plots(tmp, actions, stats)
    (tmp / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    (tmp / "DATASHEET.md").write_text(_datasheet(dataset, stats))
    media_root = str(Path(settings.MEDIA_ROOT).resolve())
    if with_media:
        media_root = "media"
        for key in media:
            target = tmp / "media" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            with default_storage.open(key, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
    content_hash = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    manifest = {"dataset": dataset.name, "media_root": media_root, "files": files, "content_hash": content_hash,
                "format": "mmit-release/1", "media_included": with_media}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    if progress:
        progress(total, total)
    return ExportResult(out_dir=out_dir, stats=stats, manifest=manifest, content_hash=content_hash)


def _summary(counter: Counter, actions) -> dict:
    counts = [counter.get(a.name, 0) for a in actions]
    present = [c for c in counts if c]
    return {
        "labels": sum(counts),
        "classes_with_examples": len(present),
        "examples_per_class_mean": round(statistics.mean(counts), 4) if counts else 0,
        "examples_per_class_median": statistics.median(counts) if counts else 0,
    }


def _statistics(actions, per_class, per_video_counts, states, sources, source_yes) -> dict:
    total_class = Counter()
    total_videos = Counter()
    for s in Split.values:
        total_class.update(per_class[s])
        total_videos.update(per_video_counts[s])
    videos = sum(total_videos.values())
    return {
        "labels": sum(total_class.values()),
        "videos": videos,
        "videos_2plus": sum(n for k, n in total_videos.items() if k >= 2),
        "videos_3plus": sum(n for k, n in total_videos.items() if k >= 3),
        "labels_per_video": {str(k): total_videos[k] for k in sorted(total_videos)},
        "splits": {s: {**_summary(per_class[s], actions), "videos": sum(per_video_counts[s].values())}
                   for s in Split.values},
        "per_class": {a.name: total_class.get(a.name, 0) for a in actions},
        "asked": dict(sorted(states.items())),
        "harvest_by_source": {s: {"asked": n, "yes": source_yes[s], "rate": round(source_yes[s] / n, 4)}
                              for s, n in sorted(sources.items())},
        "vocabulary_size": len(actions),
    }


def _single_label_counts(dataset, actions) -> dict:
    """The single-label baseline of Fig. 3: one label per video, its initial label (asked, or
    imported as verified from a trusted manifest: source ``import``)."""
    names = {a.pk: a.name for a in actions}
    counts = Counter()
    last = None  # rows come in video order: remembering the last video keeps memory constant
    for vid, aid in (Label.objects.filter(dataset=dataset, source__in=(Label.Source.INITIAL, Label.Source.IMPORT),
                                          video__status=Video.Status.OK)
                     .order_by("video_id", "id").values_list("video_id", "action_id").iterator(chunk_size=CHUNK)):
        if vid == last or aid not in names:
            continue
        last = vid
        counts[names[aid]] += 1
    return {a.name: counts.get(a.name, 0) for a in actions}


def _plots(out: Path, actions, stats) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    multi = stats["per_class"]
    single = stats["single_label_baseline"]
    order = sorted(multi, key=lambda n: (-multi[n], n))
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.plot(range(len(order)), [multi[n] for n in order], label="multi-label (this release)", color="#2463eb")
    ax.plot(range(len(order)), sorted((single[n] for n in order), reverse=True), label="single-label baseline",
            color="#b42318", linestyle="--")
    ax.set_xlabel("action classes (sorted by number of labels)")
    ax.set_ylabel("labels")
    ax.set_yscale("symlog")
    ax.set_title("Label distribution (cf. Fig. 3)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "label_distribution.png", metadata={"Software": None})
    plt.close(fig)

    per_video = stats["labels_per_video"]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    keys = sorted(int(k) for k in per_video)
    ax.bar([str(k) for k in keys], [per_video[str(k)] for k in keys], color="#2463eb")
    ax.set_xlabel("positive labels per video")
    ax.set_ylabel("videos")
    fig.tight_layout()
    fig.savefig(out / "labels_per_video.png", metadata={"Software": None})
    plt.close(fig)


def _datasheet(dataset: Dataset, stats: dict) -> str:
    events = Counter(VocabularyEvent.objects.filter(dataset=dataset).values_list("kind", flat=True))
    merged = list(Action.objects.filter(dataset=dataset, status=Action.Status.MERGED).order_by("name")
                  .values_list("name", "merged_into__name"))
    removed = list(Action.objects.filter(dataset=dataset, status=Action.Status.REMOVED).order_by("name")
                   .values_list("name", flat=True))
    lines = [
        f"# Datasheet: {dataset.name}",
        "",
        "## What the data is",
        f"{stats['videos']} videos with {stats['labels']} verified positive action labels over "
        f"{stats['vocabulary_size']} action classes; {stats['videos_2plus']} videos have 2 or more labels and "
        f"{stats['videos_3plus']} have 3 or more.",
        "",
        "| split | videos | labels | classes with examples | examples per class (mean / median) |",
        "|---|---|---|---|---|",
    ]
    for s, v in stats["splits"].items():
        lines.append(f"| {s} | {v['videos']} | {v['labels']} | {v['classes_with_examples']} | "
                     f"{v['examples_per_class_mean']} / {v['examples_per_class_median']} |")
    lines += [
        "",
        "## How it was collected",
        "Each (video, action) pair was asked as a Yes/No question (is the action seen or heard in this clip?) to crowd "
        f"workers, with about {dataset.gold_ratio:.0%} hidden gold questions per set; a set with more than one wrong "
        "gold answer could not be submitted and repeat offenders were blocked. Every pair received at least "
        f"{dataset.train_answers} answers (train) or {dataset.eval_answers} (val/test) under the fixed policy"
        + (", or fewer where a probabilistic aggregator was confident (adaptive redundancy)" if dataset.adaptive else "")
        + f". Aggregation: {dataset.aggregator}.",
        "",
        "Where pairs came from (asked / yes / harvest rate):",
        "",
    ]
    for source, h in stats["harvest_by_source"].items():
        if source == Label.Source.IMPORT:
            lines.append(f"- {source}: {h['yes']} labels verified before the import (a trusted manifest, e.g. Moments "
                         "in Time), recorded as positives with their provenance and not asked again")
            continue
        lines.append(f"- {source}: {h['asked']} / {h['yes']} / {h['rate']:.1%}")
    lines += [
        "",
        "## Vocabulary changes",
        f"Audit trail: {', '.join(f'{k} x{n}' for k, n in sorted(events.items())) or 'none'}.",
    ]
    if merged:
        lines.append("Merged: " + ", ".join(f"{a} -> {b}" for a, b in merged) + ".")
    if removed:
        lines.append("Removed: " + ", ".join(removed) + ".")
    lines += [
        "",
        "## Known gaps",
        "- Labels are verified positives and `negatives` verified negatives (answered No); an action in neither list "
        "was never asked, is still pending or stayed ambiguous. Such unverified absent labels are not negatives: train with losses "
        "that do not penalise them (e.g. wLSEP, or `python -m ml.train --unlabelled ignore`) and read `labels.csv` "
        "for the pairs actually asked.",
        "- Candidate pairs came from WordNet, word vectors and a model's top-1 prediction, so actions unrelated to "
        "any of these were asked less often.",
        f"- Ambiguous pairs (a tie or low confidence): {stats['asked'].get('ambiguous', 0)}.",
        "",
        "## Files",
        "`labels.csv` (every asked pair with its votes, its source and its provenance: `crowd`, `import`, or "
        "`corrected` where a curator set the verdict), `train.csv`/`val.csv`/`test.csv` (`path,labels,negatives`, "
        "';'-separated verified positives and negatives of each video with a positive, what the ml package "
        "reads), `vocabulary.csv`, `stats.json`, `label_distribution.png`, `labels_per_video.png`, "
        "`manifest.json` (SHA-256 of every file).",
        "",
    ]
    return "\n".join(lines)
