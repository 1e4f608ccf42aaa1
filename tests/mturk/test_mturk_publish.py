"""Publishing: qualification, reused HIT types, ExternalQuestion HITs, no duplicates, the budget cap."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.common.errors import DomainError
from backend.mturk.fees import assignment_cost, bonus_cost, hit_cost
from backend.mturk.gateway import MTurkUnavailable
from backend.mturk.models import Batch, Hit, HitType, QualificationType
from backend.mturk.services import publish
from backend.mturk.services.publish import (
    BUDGET_REACHED,
    BUDGET_TOO_SMALL,
    DATASET_BUDGET_LEFT,
    EXTERNAL_QUESTION_NS,
    NO_WORK,
    NOT_HTTPS,
    batch_create,
    batch_publish,
)
from tests.mturk.mturk_helpers import ANY, SITE, hit_id

pytestmark = pytest.mark.django_db
QUAL = "3BLOCKQUALIFICATION0000000001"
TYPE = "3HITTYPE000000000000000000001"


def _batch(engine, **kw) -> Batch:
    args = {"reward": Decimal("0.40"), "budget": Decimal("100"), "assignments_per_hit": 3, "sandbox": True}
    args.update(kw)
    return batch_create(dataset=engine["dataset"], **args)


def _expect_setup(stub, batch, *, qualification=True):
    if qualification:
        stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL, "Name": "x"}},
                {"Name": "MMIT soft block", "Description": ANY, "Keywords": "mmit",
                 "QualificationTypeStatus": "Active"})
    stub.ok("create_hit_type", {"HITTypeId": TYPE}, {
        "Title": batch.title, "Description": batch.description, "Keywords": batch.keywords, "Reward": "0.40",
        "AssignmentDurationInSeconds": 30 * 60, "AutoApprovalDelayInSeconds": 3 * 24 * 3600,
        "QualificationRequirements": [
            {"QualificationTypeId": QUAL, "Comparator": "DoesNotExist", "ActionsGuarded": "DiscoverPreviewAndAccept"},
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo",
             "IntegerValues": [95], "ActionsGuarded": "Accept"},
            {"QualificationTypeId": "00000000000000000071", "Comparator": "In", "LocaleValues": [{"Country": "US"}],
             "ActionsGuarded": "Accept"},
        ],
    })


def _created(n: int) -> dict:
    return {"HIT": {"HITId": hit_id(n), "HITTypeId": TYPE, "Expiration": timezone.now() + timedelta(days=7)}}


def _expect_hits(stub, batch, n, *, first=0, ids_from=None):
    for i in range(first, first + n):
        stub.ok("create_hit_with_hit_type", _created(i if ids_from is None else ids_from + i), {
            "HITTypeId": TYPE, "MaxAssignments": batch.assignments_per_hit, "LifetimeInSeconds": 7 * 24 * 3600,
            "Question": ANY, "RequesterAnnotation": ANY, "UniqueRequestToken": f"{batch.public_id.hex}-{i}",
        })


def test_publish_creates_hits_with_external_question(engine, stub):
    batch = _batch(engine, hits=2)
    _expect_setup(stub, batch)
    _expect_hits(stub, batch, 2)
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert report.created == 2 and report.message == ""
    hits = list(Hit.objects.filter(batch=batch))
    assert [h.hit_id for h in hits] == [hit_id(0), hit_id(1)] and {h.status for h in hits} == {"open"}
    assert report.committed == 2 * hit_cost(reward=Decimal("0.40"), max_assignments=3) == Decimal("2.88")
    batch.refresh_from_db()
    assert batch.status == "published" and batch.hit_type.hit_type_id == TYPE

    question = publish.external_question(url=publish.set_page_url(dataset=batch.dataset, prompt=batch.prompt),
                                         frame_height=800)
    assert f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">' in question
    assert "2006-07-14/ExternalQuestion.xsd" in EXTERNAL_QUESTION_NS
    assert f"<ExternalURL>{SITE}/mturk/annotate/synthetic/?prompt=seen_or_heard</ExternalURL>" in question
    assert "<FrameHeight>800</FrameHeight>" in question
    annotation = publish.requester_annotation(hit=hits[0])
    assert annotation == f"mmit {hits[0].token} {SITE}/api/mturk/hits/{hits[0].token}/"


def test_question_xml_escapes_the_url():
    xml = publish.external_question(url="https://x.org/a/?p=1&q=2", frame_height=600)
    assert "<ExternalURL>https://x.org/a/?p=1&amp;q=2</ExternalURL>" in xml


def test_hit_type_and_qualification_are_created_once_and_reused(engine, stub):
    first = _batch(engine, hits=1)
    _expect_setup(stub, first)
    _expect_hits(stub, first, 1)
    batch_publish(batch_id=first.pk, gateway=stub.gateway)
    second = _batch(engine, hits=1, title=first.title)
    _expect_hits(stub, second, 1, ids_from=5)  # no CreateQualificationType, no CreateHITType
    batch_publish(batch_id=second.pk, gateway=stub.gateway)
    assert HitType.objects.count() == 1 and QualificationType.objects.count() == 1
    third = _batch(engine, hits=1, reward=Decimal("0.50"))  # another configuration: another HIT type
    stub.ok("create_hit_type", {"HITTypeId": "3HITTYPE000000000000000000002"})
    stub.ok("create_hit_with_hit_type", _created(9))
    batch_publish(batch_id=third.pk, gateway=stub.gateway)
    assert HitType.objects.count() == 2


def test_existing_qualification_is_found_when_its_row_was_lost(engine, stub):
    batch = _batch(engine, hits=1)
    stub.error("create_qualification_type", "RequestError",
               "You have already created a QualificationType with this name.")
    page = [{"QualificationTypeId": f"3OTHER{i:024d}", "Name": f"other {i}"} for i in range(100)]
    stub.ok("list_qualification_types", {"QualificationTypes": page, "NextToken": "p2", "NumResults": 100},
            {"Query": "MMIT soft block", "MustBeRequestable": False, "MustBeOwnedByCaller": True, "MaxResults": 100})
    stub.ok("list_qualification_types",
            {"QualificationTypes": [{"QualificationTypeId": QUAL, "Name": "MMIT soft block"}], "NumResults": 1},
            {"Query": "MMIT soft block", "MustBeRequestable": False, "MustBeOwnedByCaller": True, "MaxResults": 100,
             "NextToken": "p2"})
    _expect_setup(stub, batch, qualification=False)
    _expect_hits(stub, batch, 1)
    batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert QualificationType.objects.get().qualification_type_id == QUAL


def test_a_replayed_publish_creates_nothing_twice(engine, stub):
    batch = _batch(engine, hits=2)
    _expect_setup(stub, batch)
    _expect_hits(stub, batch, 2)
    batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    again = batch_publish(batch_id=batch.pk, gateway=stub.gateway)  # no stubbed call left: none is made
    assert again.created == 0 and again.existing == 2
    assert Hit.objects.filter(batch=batch).count() == 2


def test_retry_after_a_lost_response_reuses_the_token(engine, stub):
    """The worker died after CreateHIT succeeded on MTurk but before the id was saved."""
    batch = _batch(engine, hits=2)
    _expect_setup(stub, batch)
    stub.error("create_hit_with_hit_type", "ServiceUnavailable", "timeout", status=503)
    stub.error("create_hit_with_hit_type", "RequestError",
               f'The HIT with ID "{hit_id(0)}" already exists. (1626172412406)',
               params={"HITTypeId": TYPE, "MaxAssignments": 3, "LifetimeInSeconds": ANY, "Question": ANY,
                       "RequesterAnnotation": ANY, "UniqueRequestToken": f"{batch.public_id.hex}-0"})
    # the second HIT: the duplicate message carries no id, so the HIT is found by its annotation
    stub.error("create_hit_with_hit_type", "RequestError", 'The idempotency token "x" has already been processed.')
    others = [{"HITId": hit_id(100 + i), "RequesterAnnotation": f"mmit other-{i} x"} for i in range(100)]
    stub.ok("list_hits", {"HITs": others, "NextToken": "p2", "NumResults": 100}, {"MaxResults": 100})
    stub.ok("list_hits", {"HITs": [{"HITId": hit_id(1), "RequesterAnnotation": f"mmit {batch.public_id.hex}-1 u"}],
                          "NumResults": 1}, {"MaxResults": 100, "NextToken": "p2"})
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert report.created == 2
    assert list(Hit.objects.filter(batch=batch).values_list("hit_id", flat=True)) == [hit_id(0), hit_id(1)]
    assert stub.sleeps == [0.5]


def test_an_old_token_is_checked_before_it_is_trusted(engine, stub):
    """MTurk forgets tokens after 24 h: a day-old reserved row is looked up by annotation first."""
    batch = _batch(engine, hits=1)
    batch.hit_type = HitType.objects.create(sandbox=True, config_hash="x", hit_type_id=TYPE, params={})
    batch.save()
    hit = Hit.objects.create(batch=batch, index=0, token=f"{batch.public_id.hex}-0", max_assignments=3,
                             reward=Decimal("0.40"), cost_committed=Decimal("1.44"))
    Hit.objects.filter(pk=hit.pk).update(created_at=timezone.now() - timedelta(days=2))
    hit.refresh_from_db()
    stub.ok("list_hits", {"HITs": [{"HITId": hit_id(7), "RequesterAnnotation": f"mmit {hit.token} u"}],
                          "NumResults": 1}, {"MaxResults": 100})
    publish.hit_create_remote(hit=hit, batch=batch, gateway=stub.gateway)
    hit.refresh_from_db()
    assert hit.hit_id == hit_id(7) and hit.status == "open"


def test_budget_caps_publishing_reward_plus_fee(engine, stub):
    # 3 assignments x (0.40 + 20% = 0.48) = 1.44 per HIT: a 3.00 budget pays for 2 of 5
    batch = _batch(engine, hits=5, budget=Decimal("3.00"))
    _expect_setup(stub, batch)
    _expect_hits(stub, batch, 2)
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert report.created == 2 and report.message == BUDGET_REACHED.format(n=2)
    assert report.committed == Decimal("2.88") <= batch.budget
    assert Hit.objects.filter(batch=batch).count() == 2


def test_fee_is_forty_percent_from_ten_assignments():
    assert assignment_cost(reward=Decimal("0.10"), max_assignments=9) == Decimal("0.12")
    assert assignment_cost(reward=Decimal("0.10"), max_assignments=10) == Decimal("0.14")
    assert hit_cost(reward=Decimal("0.10"), max_assignments=10) == Decimal("1.40")
    assert assignment_cost(reward=Decimal("0.01"), max_assignments=1) == Decimal("0.02")  # $0.01 minimum fee
    assert assignment_cost(reward=Decimal("0.33"), max_assignments=1) == Decimal("0.40")  # 0.066 rounds up
    assert bonus_cost(amount=Decimal("1.00")) == Decimal("1.20")


def test_large_hits_pay_the_larger_fee_under_the_cap(engine, stub):
    batch = _batch(engine, hits=3, reward=Decimal("0.10"), assignments_per_hit=10, budget=Decimal("2.79"))
    stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL}})
    stub.ok("create_hit_type", {"HITTypeId": TYPE})
    _expect_hits(stub, batch, 1)
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert report.created == 1 and report.committed == Decimal("1.40")  # a second 1.40 would pass 2.79


def test_dataset_budget_caps_all_production_batches(engine, stub):
    dataset = engine["dataset"]
    dataset.budget = Decimal("2.00")
    dataset.save()
    batch = _batch(engine, hits=3, sandbox=False)
    stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL}})
    stub.ok("create_hit_type", {"HITTypeId": TYPE})
    _expect_hits(stub, batch, 1)
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway_for(sandbox=False))
    assert report.created == 1
    with pytest.raises(DomainError) as err:
        _batch(engine, hits=1, sandbox=False)
    assert err.value.message == DATASET_BUDGET_LEFT.format(left="0.56", cost="1.44")
    _batch(engine, hits=1, sandbox=True)  # sandbox money is not real: not capped by the dataset


@pytest.mark.parametrize("kwargs,message", [
    ({"budget": Decimal("1.00")}, BUDGET_TOO_SMALL.format(budget="1.00", cost="1.44")),
    ({"reward": Decimal("0.00")}, "at least $0.01"),
    ({"assignments_per_hit": 0}, "between 1 and 100"),
    ({"hits": 0}, "between 1 and 10000"),
])
def test_bad_requests_store_nothing(engine, kwargs, message, settings):
    settings.SITE_URL = SITE
    with pytest.raises(DomainError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        _batch(engine, **kwargs)
    assert not Batch.objects.exists()


def test_site_must_be_https(engine, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    with pytest.raises(DomainError) as err:
        _batch(engine, hits=1)
    assert err.value.message == NOT_HTTPS.format(url="http://127.0.0.1:8000")


def test_default_hits_cover_the_missing_answers(engine, settings):
    settings.SITE_URL = SITE
    # 30 questions x 3 answers; a new worker's set of 10 holds 3 gold, so 7 questions per set
    assert _batch(engine).hits_requested == 5  # ceil(90 / (7 x 3))
    from backend.annotation.models import Question

    Question.objects.update(state="decided")
    with pytest.raises(DomainError) as err:
        _batch(engine)
    assert err.value.message == NO_WORK.format(dataset="synthetic", prompt="seen_or_heard")


def test_a_refused_hit_fails_the_batch_and_frees_its_budget_then_resumes(engine, stub):
    batch = _batch(engine, hits=2)
    _expect_setup(stub, batch)
    _expect_hits(stub, batch, 1)
    stub.error("create_hit_with_hit_type", "RequestError", "This Requester has insufficient funds.")
    with pytest.raises(DomainError, match="insufficient funds"):
        batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    batch.refresh_from_db()
    failed = Hit.objects.get(batch=batch, index=1)
    assert batch.status == "failed" and failed.status == "failed" and failed.cost_committed == 0
    _expect_hits(stub, batch, 1, first=1)  # funds added: a resume creates the missing one only
    report = batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    assert report.created == 1 and report.existing == 1


def test_mturk_down_leaves_a_resumable_reservation(engine, stub):
    batch = _batch(engine, hits=1)
    _expect_setup(stub, batch)
    for _ in range(stub.max_attempts):
        stub.error("create_hit_with_hit_type", "ThrottlingException", "Rate exceeded", status=400)
    with pytest.raises(MTurkUnavailable):
        batch_publish(batch_id=batch.pk, gateway=stub.gateway)
    hit = Hit.objects.get(batch=batch)
    assert hit.status == "pending" and hit.hit_id is None  # the same token is used by the next run
    assert len(stub.sleeps) == stub.max_attempts - 1
