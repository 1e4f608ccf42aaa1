"""A stand-in for MTurk's requester service, for tests whose boto3 client lives in another process.

botocore's Stubber only reaches clients in the test's own process; a Celery worker subprocess
makes its own client, so it is pointed here with ``MMIT_MTURK_ENDPOINT_URL``. The server speaks
the JSON 1.1 protocol of boto3's ``mturk`` client (POST, ``X-Amz-Target:
MTurkRequesterServiceV20170117.<Operation>``, JSON in and out; errors as ``{"__type", "Message"}``
with status 400) and implements what publishing and the review loop call. Signatures are not checked.
``assignment_submit`` plays a worker who submits an assignment on MTurk's side.

Idempotency is MTurk's: a repeated ``UniqueRequestToken`` is refused with the message MTurk gives
(naming the HIT that token created) instead of creating a second HIT, a HIT type with the same
properties keeps its id, and a second qualification type of the same name is refused.

``delay`` slows every reply; ``hold_at=n`` holds the reply to the n-th CreateHITWithHITType,
after the HIT is recorded, until ``release`` is set: a test kills the caller while ``holding``
is set, which is the worst moment -- the HIT exists on MTurk and the caller never learns its id.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
HIT_EXISTS = 'The HIT with ID "{hit_id}" already exists. ({request})'
QUALIFICATION_EXISTS = "You have already created a QualificationType with this name."
UNKNOWN_HIT_TYPE = "Hit type does not exist. ({request})"
HOLD_TIMEOUT = 120  # seconds a held reply waits for `release` before it is sent anyway


class MTurkError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _entity_id(prefix: str, n: int) -> str:
    """MTurk ids are 30 upper-case letters and digits."""
    return f"{prefix}{n:0{30 - len(prefix)}d}"


class FakeRequester:
    def __init__(self, *, delay: float = 0.0, hold_at: int | None = None) -> None:
        self.delay = delay
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.hits: dict[str, dict] = {}  # HITId -> HIT, in creation order
        self.tokens: dict[str, str] = {}  # UniqueRequestToken -> HITId
        self.refused_tokens: list[str] = []
        self.hit_types: dict[str, str] = {}  # digest of the properties -> HITTypeId
        self.qualification_types: dict[str, dict] = {}  # Name -> QualificationType
        self.assignments: dict[str, dict] = {}  # AssignmentId -> Assignment, in submission order
        self.qualified: dict[str, set[str]] = {}  # QualificationTypeId -> WorkerIds holding it
        self.feedback: dict[str, str] = {}  # AssignmentId -> RequesterFeedback of its approval/rejection
        self.calls: Counter[str] = Counter()
        self.unknown: list[str] = []  # operations asked for that the fake lacks
        self._requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
                try:
                    status, reply = 200, fake.handle(operation, body)
                except MTurkError as exc:
                    status, reply = 400, {"__type": exc.code, "Message": exc.message}
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(reply).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-amzn-RequestId", f"fake-{fake._requests}")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the caller was killed meanwhile
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRequester:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # --- the operations ----------------------------------------------------------------------

    def handle(self, operation: str, body: dict) -> dict:
        with self.lock:
            self._requests += 1
            self.calls[operation] += 1
            handler = getattr(self, f"_op_{operation}", None)
            if handler is None:
                self.unknown.append(operation)
                raise MTurkError("UnknownOperationException", f"{operation} is not implemented by the fake.")
            reply = handler(body)
            hold = operation == "CreateHITWithHITType" and self.hold_at is not None and len(self.hits) == self.hold_at \
                and not self.holding.is_set()
        if hold:  # outside the lock: the caller's retries and other requests still get answers
            self.holding.set()
            self.release.wait(HOLD_TIMEOUT)
        return reply

    def _op_GetAccountBalance(self, body: dict) -> dict:
        return {"AvailableBalance": "10000.00"}

    def _op_CreateQualificationType(self, body: dict) -> dict:
        if body["Name"] in self.qualification_types:
            raise MTurkError("RequestError", QUALIFICATION_EXISTS)
        qualification = {
            "QualificationTypeId": _entity_id("3QUAL", len(self.qualification_types) + 1), "Name": body["Name"],
            "Description": body.get("Description", ""), "Keywords": body.get("Keywords", ""),
            "QualificationTypeStatus": body.get("QualificationTypeStatus", "Active"), "CreationTime": time.time(),
            "IsRequestable": True, "AutoGranted": False,
        }
        self.qualification_types[body["Name"]] = qualification
        return {"QualificationType": qualification}

    def _op_ListQualificationTypes(self, body: dict) -> dict:
        query = (body.get("Query") or "").lower()
        found = [q for q in self.qualification_types.values() if query in q["Name"].lower()]
        return self._page(found, body, "QualificationTypes")

    def _op_CreateHITType(self, body: dict) -> dict:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        type_id = self.hit_types.setdefault(digest, _entity_id("3TYPE", len(self.hit_types) + 1))
        return {"HITTypeId": type_id}

    def _op_CreateHITWithHITType(self, body: dict) -> dict:
        if body["HITTypeId"] not in self.hit_types.values():
            raise MTurkError("RequestError", UNKNOWN_HIT_TYPE.format(request=self._requests))
        token = body.get("UniqueRequestToken")
        if token and token in self.tokens:
            self.refused_tokens.append(token)
            raise MTurkError("RequestError", HIT_EXISTS.format(hit_id=self.tokens[token], request=self._requests))
        hit_id = _entity_id("3HIT", len(self.hits) + 1)
        now = time.time()
        hit = {
            "HITId": hit_id, "HITTypeId": body["HITTypeId"], "CreationTime": now,
            "Expiration": now + int(body["LifetimeInSeconds"]), "HITStatus": "Assignable",
            "MaxAssignments": body["MaxAssignments"], "Question": body["Question"],
            "RequesterAnnotation": body.get("RequesterAnnotation", ""), "NumberOfAssignmentsPending": 0,
            "NumberOfAssignmentsAvailable": body["MaxAssignments"], "NumberOfAssignmentsCompleted": 0,
        }
        self.hits[hit_id] = hit
        if token:
            self.tokens[token] = hit_id
        return {"HIT": hit}

    def _op_ListHITs(self, body: dict) -> dict:
        return self._page(list(self.hits.values()), body, "HITs")

    # --- the review loop's operations --------------------------------------------------------

    def assignment_submit(self, *, hit_id: str, assignment_id: str, worker_id: str) -> dict:
        """A worker submits an assignment on MTurk (what follows the frame's externalSubmit)."""
        with self.lock:
            if hit_id not in self.hits:
                raise KeyError(hit_id)
            now = time.time()
            assignment = {"AssignmentId": assignment_id, "WorkerId": worker_id, "HITId": hit_id,
                          "AssignmentStatus": "Submitted", "AcceptTime": now - 60, "SubmitTime": now,
                          "Answer": "<QuestionFormAnswers/>"}
            self.assignments[assignment_id] = assignment
            return assignment

    def _assignment(self, body: dict) -> dict:
        assignment = self.assignments.get(body.get("AssignmentId", ""))
        if assignment is None:
            raise MTurkError("RequestError", f"Assignment {body.get('AssignmentId')} does not exist.")
        return assignment

    def _op_ListAssignmentsForHIT(self, body: dict) -> dict:
        statuses = set(body.get("AssignmentStatuses") or ["Submitted", "Approved", "Rejected"])
        found = [a for a in self.assignments.values() if a["HITId"] == body["HITId"]
                 and a["AssignmentStatus"] in statuses]
        return self._page(found, body, "Assignments")

    def _op_GetAssignment(self, body: dict) -> dict:
        assignment = self._assignment(body)
        return {"Assignment": assignment, "HIT": self.hits[assignment["HITId"]]}

    def _settle(self, body: dict, status: str) -> dict:
        assignment = self._assignment(body)
        if assignment["AssignmentStatus"] != "Submitted":
            raise MTurkError("RequestError", f"This operation can be called with a status of: Submitted "
                                             f"(assignment is {assignment['AssignmentStatus']}).")
        assignment["AssignmentStatus"] = status
        assignment[f"{'Approval' if status == 'Approved' else 'Rejection'}Time"] = time.time()
        self.feedback[assignment["AssignmentId"]] = body.get("RequesterFeedback", "")
        return {}

    def _op_ApproveAssignment(self, body: dict) -> dict:
        return self._settle(body, "Approved")

    def _op_RejectAssignment(self, body: dict) -> dict:
        return self._settle(body, "Rejected")

    def _op_AssociateQualificationWithWorker(self, body: dict) -> dict:
        self.qualified.setdefault(body["QualificationTypeId"], set()).add(body["WorkerId"])
        return {}

    def _op_UpdateExpirationForHIT(self, body: dict) -> dict:
        hit = self.hits.get(body["HITId"])
        if hit is None:
            raise MTurkError("RequestError", f"Hit {body['HITId']} does not exist.")
        hit["Expiration"] = body["ExpireAt"] if isinstance(body["ExpireAt"], (int, float)) else time.time()
        hit["HITStatus"] = "Unassignable"
        return {}

    @staticmethod
    def _page(items: list[dict], body: dict, key: str) -> dict:
        start = int(body.get("NextToken") or 0)
        size = int(body.get("MaxResults") or 10)
        page = items[start:start + size]
        reply = {key: page, "NumResults": len(page)}
        if start + size < len(items):
            reply["NextToken"] = str(start + size)
        return reply
