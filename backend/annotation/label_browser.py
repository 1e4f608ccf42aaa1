"""The label browser's selection, shared by the dashboard page, the API list, its CSV download and
the bulk correction: the filters (checked here), the sort orders, the pages and the export rows.

Every order is a keyset over an index, so a page costs the same at a million videos as at ten:

- ``added`` (the default) and ``newest``: the label's id (the primary key).
- ``confidence`` / ``-confidence``: least / most confident first, over ``label_by_confidence``
  (dataset, confidence, id); labels without a confidence (no decision yet) are not in this order.
- ``video``: the video's id, over ``label_unique_pair`` (video, action).

The filters on Label's own columns are ``labels.selectors.label_filter``'s; the worker filter (the
labels a worker answered) reads answers, so it lives here, a floor above.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass

from django.db.models import QuerySet

from backend.annotation.models import Answer
from backend.common.errors import DomainError
from backend.common.pages import KeysetPage, sort_cursor, sorted_chunks, sorted_page
from backend.labels.models import Label
from backend.labels.selectors import label_corrections, label_filter
from backend.videos.models import Dataset

# sort -> (key, descending, how the page says it)
SORTS: dict[str, tuple[str, bool, str]] = {
    "added": ("pk", False, "in the order they were added"),
    "newest": ("pk", True, "newest first"),
    "confidence": ("confidence", False, "least confident first"),
    "-confidence": ("confidence", True, "most confident first"),
    "video": ("video", False, "by video"),
}
FILTERS = ("action", "state", "source", "confidence_min", "confidence_max", "votes", "worker")
BAD_CONFIDENCE = "{field} must be a number between 0 and 1, not {value!r}."
BAD_RANGE = "confidence_min ({low}) is above confidence_max ({high})."
BAD_WORKER = "worker must be a worker's number (the id on the Workers page), not {value!r}."
BAD_SORT = "sort must be one of {choices}, not {value!r}."
CSV_HEADER = ("label_id", "video_id", "video", "action", "source", "round", "state", "yes", "no", "confidence",
              "corrected", "created_at", "decided_at")
CSV_FIELDS = ("id", "video_id", "video__name", "action__name", "source", "round", "state", "yes_count", "no_count",
              "confidence", "corrected", "created_at", "decided_at")


@dataclass(frozen=True)
class LabelBrowse:
    """What the browser shows: its filters (empty: any) and its sort order."""

    action: str = ""
    state: str = ""
    source: str = ""
    confidence_min: float | None = None
    confidence_max: float | None = None
    votes: str = ""
    worker: int | None = None
    sort: str = "added"

    def query(self) -> dict[str, str]:
        """The non-empty parameters, as a link to the same selection writes them."""
        values = {k: v for k, v in asdict(self).items() if v not in ("", None)}
        if values.get("sort") == "added":
            del values["sort"]
        return {k: str(v) for k, v in values.items()}

    def filtered(self) -> bool:
        return any(v not in ("", None) for k, v in asdict(self).items() if k != "sort")

    @property
    def order(self) -> str:
        return SORTS[self.sort][2]


def _confidence(field: str, raw: str) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise DomainError(BAD_CONFIDENCE.format(field=field, value=raw[:40]), field=field)
    return value


def label_browse_parse(params: Mapping) -> LabelBrowse:
    """The browser's selection from query parameters (or a bulk correction's ``filters``); every
    key optional, unknown keys ignored.

    Raises:
        DomainError: ``BAD_CONFIDENCE``, ``BAD_RANGE``, ``BAD_WORKER``, ``BAD_SORT``.
    """
    raw = {k: str(params.get(k) or "").strip() for k in (*FILTERS, "sort")}
    low = _confidence("confidence_min", raw["confidence_min"])
    high = _confidence("confidence_max", raw["confidence_max"])
    if low is not None and high is not None and low > high:
        raise DomainError(BAD_RANGE.format(low=low, high=high), field="confidence_min")
    worker = None
    if raw["worker"]:
        if not raw["worker"].isdigit():
            raise DomainError(BAD_WORKER.format(value=raw["worker"][:40]), field="worker")
        worker = int(raw["worker"])
    sort = raw["sort"] or "added"
    if sort not in SORTS:
        raise DomainError(BAD_SORT.format(choices=", ".join(SORTS), value=sort[:40]), field="sort")
    return LabelBrowse(action=raw["action"], state=raw["state"], source=raw["source"], confidence_min=low,
                       confidence_max=high, votes=raw["votes"], worker=worker, sort=sort)


def label_browse(*, dataset: Dataset, browse: LabelBrowse) -> QuerySet[Label]:
    """The labels the selection holds (unordered; the sort's key is never null in it).

    Raises:
        DomainError: a bad ``votes`` (``labels.selectors.BAD_VOTES``).
    """
    qs = label_filter(dataset=dataset, action=browse.action, state=browse.state, source=browse.source,
                      confidence_min=browse.confidence_min, confidence_max=browse.confidence_max,
                      votes=browse.votes)
    if browse.worker is not None:
        # The worker's answers (an index on worker) give the label ids: a semi-join, not a
        # per-label subquery over the whole dataset.
        qs = qs.filter(pk__in=Answer.objects.filter(worker_id=browse.worker).values("question__label_id"))
    if SORTS[browse.sort][0] == "confidence":
        qs = qs.filter(confidence__isnull=False)
    return qs


def label_browse_page(*, dataset: Dataset, browse: LabelBrowse, after: str | None = None, before: str | None = None,
                      limit: int = 50) -> KeysetPage:
    """One keyset page of the selection in its order (``after``/``before``: the cursors the previous
    page gave), each row with its video, action and corrections (``history``, oldest first)."""
    key, descending, _ = SORTS[browse.sort]
    cast = int if key in ("pk", "video") else float
    page = sorted_page(label_browse(dataset=dataset, browse=browse).select_related("video", "action"), key=key,
                       descending=descending, after=sort_cursor(after, cast), before=sort_cursor(before, cast),
                       limit=limit)
    history = label_corrections(label_ids=[label.pk for label in page.rows])
    for label in page.rows:
        label.history = history.get(label.pk, [])
    return page


def label_browse_rows(*, dataset: Dataset, browse: LabelBrowse) -> Iterator[tuple]:
    """Every label of the selection as a CSV row (``CSV_HEADER``), in its order, read in keyset
    chunks: a generator for a streamed download."""
    key, descending, _ = SORTS[browse.sort]
    yield from sorted_chunks(label_browse(dataset=dataset, browse=browse), fields=CSV_FIELDS, key=key,
                             descending=descending)
