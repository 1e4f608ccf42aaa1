"""The gateway: retries with backoff on throttling and transient errors, paging to the very end."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from backend.mturk.gateway import MTurkUnavailable, endpoint_url, mturk_client
from tests.mturk.mturk_helpers import MTurkStub, hit_id


def _hits(start: int, n: int) -> list[dict]:
    return [{"HITId": hit_id(i), "RequesterAnnotation": f"mmit t{i} x"} for i in range(start, start + n)]


def test_throttling_is_retried_with_exponential_backoff(stub):
    stub.error("get_account_balance", "ThrottlingException", "Rate exceeded")
    stub.error("get_account_balance", "ServiceUnavailable", "busy", status=503)
    stub.ok("get_account_balance", {"AvailableBalance": "10000.00"})
    assert stub.gateway.call("get_account_balance")["AvailableBalance"] == "10000.00"
    assert stub.sleeps == [0.5, 1.0]  # base 0.5 s, doubled; jitter pinned to 1 in tests


def test_retries_run_out_with_a_clear_error(stub):
    for _ in range(stub.max_attempts):
        stub.error("get_account_balance", "ServiceFault", "internal", status=500)
    with pytest.raises(MTurkUnavailable) as err:
        stub.gateway.call("get_account_balance")
    assert "after 4 attempts" in err.value.message and "ServiceFault" in err.value.message
    assert len(stub.sleeps) == 3


def test_request_errors_are_not_retried(stub):
    stub.error("get_hit", "RequestError", "Hit 3X does not exist.", params={"HITId": hit_id(1)})
    with pytest.raises(ClientError):
        stub.gateway.call("get_hit", HITId=hit_id(1))
    assert stub.sleeps == []


def test_paging_never_loses_the_rest_even_when_a_page_is_throttled(stub):
    stub.ok("list_hits", {"HITs": _hits(0, 100), "NextToken": "page2", "NumResults": 100}, {"MaxResults": 100})
    stub.error("list_hits", "ThrottlingException", "slow down")
    stub.ok("list_hits", {"HITs": _hits(100, 100), "NextToken": "page3", "NumResults": 100},
            {"MaxResults": 100, "NextToken": "page2"})
    stub.ok("list_hits", {"HITs": _hits(200, 37), "NumResults": 37}, {"MaxResults": 100, "NextToken": "page3"})
    ids = [h["HITId"] for h in stub.gateway.items("list_hits", "HITs")]
    assert ids == [hit_id(i) for i in range(237)]
    assert stub.sleeps == [0.5]


def test_an_empty_page_ends_the_walk(stub):
    stub.ok("list_hits", {"HITs": _hits(0, 3), "NextToken": "more", "NumResults": 3}, {"MaxResults": 100})
    stub.ok("list_hits", {"HITs": [], "NextToken": "again", "NumResults": 0},
            {"MaxResults": 100, "NextToken": "more"})
    assert len(list(stub.gateway.items("list_hits", "HITs"))) == 3


def test_endpoints_region_and_no_stored_credentials(settings):
    assert endpoint_url(sandbox=True) == "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
    assert endpoint_url(sandbox=False) == "https://mturk-requester.us-east-1.amazonaws.com"
    client = mturk_client(sandbox=False)
    assert client.meta.region_name == "us-east-1"
    assert client.meta.endpoint_url == "https://mturk-requester.us-east-1.amazonaws.com"
    # our retry policy is the only one: botocore makes a single attempt per call
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_stub_is_the_real_service_model():
    fake = MTurkStub()
    with fake.stubber:
        fake.ok("create_hit_type", {"HITTypeId": "3TYPE"})
        # botocore validates every stubbed call against the MTurk model (here: required fields missing)
        with pytest.raises(ParamValidationError, match="AssignmentDurationInSeconds"):
            fake.gateway.call("create_hit_type", Title="t")
        assert fake.gateway.call("create_hit_type", Title="t", Description="d", Reward="0.10",
                                 AssignmentDurationInSeconds=60)["HITTypeId"] == "3TYPE"
        fake.done()
