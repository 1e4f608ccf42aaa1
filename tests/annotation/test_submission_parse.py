"""The submit body parser (the hot path's own) and the documented `SubmitSerializer` agree: same
bodies accepted with the same values, same bodies refused; the parser names the bad field."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings, strategies as st

from backend.annotation.serializers import (
    BAD_ANSWER,
    BAD_ANSWERS,
    BAD_ITEM,
    BAD_MS,
    BAD_SUBMISSION_ID,
    BAD_VALUE,
    MAX_ANSWERS,
    MAX_MS,
    NOT_AN_OBJECT,
    SubmitSerializer,
    submission_parse,
)
from backend.common.errors import DomainError

SID = "4b9a3c1e-2f4d-4a55-9d7b-3c2a1b0f9e8d"
ITEM = "0f5c1b7e-8a2d-4c3b-9e6f-1a2b3c4d5e6f"


# DRF's UUIDField also takes an integer or a boolean (UUID(int=7)); the parser wants the text form.
STRICTER = {"submission_id": 7, "answers": [{"item": ITEM, "answer": True}]}


def _serializer(data):
    s = SubmitSerializer(data=data)
    if not s.is_valid():
        return None
    return s.validated_data["submission_id"], [
        {"item": a["item"], "answer": a["answer"], "ms": a.get("ms")} for a in s.validated_data["answers"]]


def _parser(data):
    try:
        return submission_parse(data)
    except DomainError:
        return None


def test_a_good_body():
    sid, answers = submission_parse({"submission_id": SID, "answers": [
        {"item": ITEM, "answer": True, "ms": 900}, {"item": ITEM.upper(), "answer": "false"}]})
    assert sid == uuid.UUID(SID)
    assert answers == [{"item": uuid.UUID(ITEM), "answer": True, "ms": 900},
                       {"item": uuid.UUID(ITEM), "answer": False, "ms": None}]


@pytest.mark.parametrize(("body", "message", "field"), [
    ([], NOT_AN_OBJECT, None),
    ("text", NOT_AN_OBJECT, None),
    ({"answers": [{"item": ITEM, "answer": True}]}, BAD_SUBMISSION_ID, "submission_id"),
    ({"submission_id": "x", "answers": [{"item": ITEM, "answer": True}]}, BAD_SUBMISSION_ID, "submission_id"),
    (STRICTER, BAD_SUBMISSION_ID, "submission_id"),
    ({"submission_id": SID}, BAD_ANSWERS.format(max=MAX_ANSWERS), "answers"),
    ({"submission_id": SID, "answers": []}, BAD_ANSWERS.format(max=MAX_ANSWERS), "answers"),
    ({"submission_id": SID, "answers": {"item": ITEM}}, BAD_ANSWERS.format(max=MAX_ANSWERS), "answers"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True}] * (MAX_ANSWERS + 1)},
     BAD_ANSWERS.format(max=MAX_ANSWERS), "answers"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True}, "yes"]}, BAD_ANSWER, "answers[1]"),
    ({"submission_id": SID, "answers": [{"item": "nope", "answer": True}]}, BAD_ITEM, "answers[0].item"),
    ({"submission_id": SID, "answers": [{"answer": True}]}, BAD_ITEM, "answers[0].item"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": "maybe"}]}, BAD_VALUE, "answers[0].answer"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": [True]}]}, BAD_VALUE, "answers[0].answer"),
    ({"submission_id": SID, "answers": [{"item": ITEM}]}, BAD_VALUE, "answers[0].answer"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True, "ms": -1}]},
     BAD_MS.format(max=MAX_MS), "answers[0].ms"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True, "ms": MAX_MS + 1}]},
     BAD_MS.format(max=MAX_MS), "answers[0].ms"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True, "ms": 1.5}]},
     BAD_MS.format(max=MAX_MS), "answers[0].ms"),
    ({"submission_id": SID, "answers": [{"item": ITEM, "answer": True, "ms": True}]},
     BAD_MS.format(max=MAX_MS), "answers[0].ms"),
])
def test_bad_bodies_name_the_field(body, message, field):
    with pytest.raises(DomainError) as err:
        submission_parse(body)
    assert (err.value.message, err.value.field, err.value.status_code) == (message, field, 400)
    if body != STRICTER:
        assert _serializer(body) is None  # the documented schema refuses it too


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, MAX_MS + 5), st.floats(allow_nan=False),
                    st.sampled_from(["true", "false", "yes", "no", "1", "0", "maybe", "", SID, ITEM, "900"]),
                    st.lists(st.booleans(), max_size=2))
_answer = st.dictionaries(st.sampled_from(["item", "answer", "ms", "other"]), _values | st.just(ITEM), max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.fixed_dictionaries({"submission_id": _values | st.just(SID), "answers": st.lists(_answer, max_size=4)}),
    st.fixed_dictionaries({"submission_id": st.just(SID),
                           "answers": st.lists(st.fixed_dictionaries({"item": st.just(ITEM), "answer": _values,
                                                                      "ms": _values}), min_size=1, max_size=3)}),
))
def test_the_parser_and_the_documented_serializer_agree(body):
    uuids = [body["submission_id"], *(a.get("item") for a in body["answers"])]
    if any(isinstance(u, int) for u in uuids):  # booleans too: DRF reads False as UUID(int=0)
        assert _parser(body) is None  # the one place it is stricter (see STRICTER)
        return
    assert _parser(body) == _serializer(body)
