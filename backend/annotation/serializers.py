import uuid

from rest_framework import serializers

from backend.annotation.label_browser import FILTERS as BROWSER_FILTERS
from backend.common.errors import DomainError

MAX_ANSWERS = 500
MAX_MS = 3_600_000


class AnswerSerializer(serializers.Serializer):
    item = serializers.UUIDField()
    answer = serializers.BooleanField()
    ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_MS)


class SubmitSerializer(serializers.Serializer):
    submission_id = serializers.UUIDField(help_text="A new UUID per click; retries of one click reuse it.")
    answers = serializers.ListField(child=AnswerSerializer(), max_length=MAX_ANSWERS, allow_empty=False)


class ItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    media_url = serializers.CharField()
    media_type = serializers.ChoiceField(choices=["video", "image"])


class ActionInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()
    definition = serializers.CharField()
    definition_generated = serializers.BooleanField(help_text="The definition comes from WordNet, not a curator.")


class TaskSetSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    dataset = serializers.CharField()
    prompt = serializers.CharField()
    question = serializers.CharField()
    action = ActionInfoSerializer()
    items = ItemSerializer(many=True)
    status = serializers.CharField()
    attempts_left = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    preview = serializers.BooleanField()


class AssignResponseSerializer(serializers.Serializer):
    set = TaskSetSerializer(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class SubmitResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "refused", "failed"])
    detail = serializers.CharField()
    attempts_left = serializers.IntegerField()


# The submit endpoint is the platform's hot path: its body is checked by the plain function below
# (a DRF serializer for 20 nested items cost about a millisecond). `SubmitSerializer` above stays
# the documented schema of the same body; `tests/annotation/test_submission_parse.py` holds the two
# to the same answers.
NOT_AN_OBJECT = "The body must be a JSON object with submission_id and answers."
BAD_SUBMISSION_ID = "submission_id must be a UUID (a new one per click; retries reuse it)."
BAD_ANSWERS = "answers must be a non-empty list of at most {max} answers."
BAD_ANSWER = "Each answer must be an object with item (a UUID) and answer (true or false)."
BAD_ITEM = "item must be a UUID."
BAD_VALUE = "answer must be true or false."
BAD_MS = "ms must be a whole number of milliseconds between 0 and {max}, or null."
_TRUE = serializers.BooleanField.TRUE_VALUES
_FALSE = serializers.BooleanField.FALSE_VALUES


def _uuid(value, message: str, field: str) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise DomainError(message, field=field)


def _ms(value, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MS:
        raise DomainError(BAD_MS.format(max=MAX_MS), field=field)
    return value


def submission_parse(data) -> tuple[uuid.UUID, list[dict]]:
    """(submission_id, [{"item": UUID, "answer": bool, "ms": int | None}]) from a submit body, or
    a DomainError (400) naming the first bad field."""
    if not isinstance(data, dict):
        raise DomainError(NOT_AN_OBJECT)
    submission_id = _uuid(data.get("submission_id"), BAD_SUBMISSION_ID, "submission_id")
    answers = data.get("answers")
    if not isinstance(answers, list) or not answers or len(answers) > MAX_ANSWERS:
        raise DomainError(BAD_ANSWERS.format(max=MAX_ANSWERS), field="answers")
    parsed = []
    for n, entry in enumerate(answers):
        if not isinstance(entry, dict):
            raise DomainError(BAD_ANSWER, field=f"answers[{n}]")
        value = entry.get("answer")
        try:
            if value in _TRUE:
                value = True
            elif value in _FALSE:
                value = False
            else:
                raise DomainError(BAD_VALUE, field=f"answers[{n}].answer")
        except TypeError:  # an unhashable value (a list, an object)
            raise DomainError(BAD_VALUE, field=f"answers[{n}].answer") from None
        parsed.append({"item": _uuid(entry.get("item"), BAD_ITEM, f"answers[{n}].item"), "answer": value,
                       "ms": _ms(entry.get("ms"), f"answers[{n}].ms")})
    return submission_id, parsed


# -- a curator's label corrections (``label_views.py``) -------------------------------------------

class LabelCorrectionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    state_before = serializers.CharField()
    state_after = serializers.CharField()
    more_answers = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    corrected_at = serializers.DateTimeField()
    corrected_by = serializers.CharField(source="corrected_by_name")


class LabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    video = serializers.CharField(source="video.name")
    action = serializers.CharField(source="action.name")
    source = serializers.CharField()
    state = serializers.CharField()
    yes = serializers.IntegerField(source="yes_count")
    no = serializers.IntegerField(source="no_count")
    confidence = serializers.FloatField(allow_null=True)
    corrected = serializers.BooleanField(help_text="A curator's verdict, pinned through consensus.")
    decided_at = serializers.DateTimeField(allow_null=True)
    corrections = LabelCorrectionSerializer(source="history", many=True, help_text="The label's history, oldest first.")


class LabelCorrectSerializer(serializers.Serializer):
    """The body of a correction (documents what ``correction_parse`` checks)."""

    state = serializers.ChoiceField(choices=["positive", "negative"], required=False,
                                    help_text="The verdict; pins the label.")
    more_answers = serializers.IntegerField(min_value=1, required=False,
                                            help_text="Reopen the label's question for this many more answers.")
    reason = serializers.CharField(help_text="Why; kept in the label's history.")


class LabelFiltersSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, allow_blank=True)
    state = serializers.CharField(required=False, allow_blank=True)
    source = serializers.CharField(required=False, allow_blank=True)
    confidence_min = serializers.FloatField(required=False, min_value=0, max_value=1)
    confidence_max = serializers.FloatField(required=False, min_value=0, max_value=1)
    votes = serializers.CharField(required=False, allow_blank=True,
                                  help_text="split, unanimous, unanswered, or yes-no counts such as 2-1")
    worker = serializers.IntegerField(required=False, help_text="Only the labels this worker (id) answered.")


class LabelBulkCorrectSerializer(LabelCorrectSerializer):
    filters = LabelFiltersSerializer(help_text="The label browser's filters ({} selects every label).")


class LabelBulkCorrectResultSerializer(serializers.Serializer):
    corrected = serializers.IntegerField(help_text="Labels the correction was recorded on.")
    changed = serializers.IntegerField(help_text="Of those, labels whose state changed.")
    batch = serializers.UUIDField()


BAD_CORRECTION_BODY = "The body must be a JSON object with state (positive or negative) or more_answers, and a reason."
LABEL_FILTERS = BROWSER_FILTERS
BAD_FILTERS = f"filters must be an object with any of {', '.join(LABEL_FILTERS)} (the label browser's filters)."


def correction_parse(data) -> dict:
    """The keyword arguments of ``labels_correct`` from a request body (a JSON object or a form);
    the service checks their values."""
    if not isinstance(data, dict):
        raise DomainError(BAD_CORRECTION_BODY)
    more = data.get("more_answers")
    if isinstance(more, str):
        more = int(more) if more.strip().isdigit() else (None if not more.strip() else more)
    state = data.get("state")
    if isinstance(state, str) and not state.strip():
        state = None
    return {"state": state, "more_answers": more, "reason": data.get("reason")}


def filters_parse(data) -> dict[str, str]:
    """The label browser's filters from a bulk correction's body."""
    filters = data.get("filters") if isinstance(data, dict) else None
    if not isinstance(filters, dict) or set(filters) - set(LABEL_FILTERS) or not all(
            v is None or (isinstance(v, (str, int, float)) and not isinstance(v, bool)) for v in filters.values()):
        raise DomainError(BAD_FILTERS, field="filters")
    return {key: str(filters.get(key) if filters.get(key) is not None else "").strip() for key in LABEL_FILTERS}
