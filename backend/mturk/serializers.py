from decimal import Decimal

from rest_framework import serializers

from backend.annotation.models import Prompt
from backend.common.views import JobSerializer
from backend.mturk.models import Batch


class BatchCreateSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    kind = serializers.ChoiceField(choices=Batch.Kind.choices, default=Batch.Kind.YESNO,
                                   help_text="What the HITs ask: Yes/No questions or drawing regions.")
    prompt = serializers.ChoiceField(choices=Prompt.choices, default=Prompt.SEEN_OR_HEARD,
                                     help_text="The question of Yes/No HITs.")
    reward = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=Decimal("0.01"))
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    assignments_per_hit = serializers.IntegerField(min_value=1, max_value=100, default=3)
    hits = serializers.IntegerField(min_value=1, max_value=10000, required=False,
                                    help_text="Default: enough HITs for the answers still missing.")
    title = serializers.CharField(max_length=128, required=False, default="")
    description = serializers.CharField(max_length=2000, required=False, default="")
    keywords = serializers.CharField(max_length=1000, required=False, default="")
    lifetime_hours = serializers.IntegerField(min_value=1, max_value=24 * 365, required=False)


class BatchSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    dataset = serializers.CharField(source="dataset.name")
    kind = serializers.CharField()
    prompt = serializers.CharField()
    sandbox = serializers.BooleanField()
    status = serializers.CharField()
    message = serializers.CharField()
    hits_requested = serializers.IntegerField()
    hits_created = serializers.IntegerField()
    assignments_per_hit = serializers.IntegerField()
    reward = serializers.DecimalField(max_digits=8, decimal_places=2)
    budget = serializers.DecimalField(max_digits=12, decimal_places=2)
    committed = serializers.DecimalField(max_digits=12, decimal_places=2,
                                         help_text="The most the batch can still cost (reserved HITs and bonuses).")
    spent = serializers.DecimalField(max_digits=12, decimal_places=2,
                                     help_text="Actually spent: approved assignments and paid bonuses, with fees.")
    hit_type_id = serializers.CharField(source="hit_type.hit_type_id", default=None)
    job = serializers.UUIDField(source="job_id", allow_null=True)
    created_at = serializers.DateTimeField()


class BatchStartedSerializer(serializers.Serializer):
    batch = BatchSerializer()
    job = JobSerializer()


class HitSerializer(serializers.Serializer):
    token = serializers.CharField()
    hit_id = serializers.CharField(allow_null=True)
    batch = serializers.UUIDField(source="batch.public_id")
    status = serializers.CharField()
    max_assignments = serializers.IntegerField()
    reward = serializers.DecimalField(max_digits=8, decimal_places=2)
    cost_committed = serializers.DecimalField(max_digits=12, decimal_places=2)
    spent = serializers.DecimalField(max_digits=12, decimal_places=2)
    working = serializers.IntegerField()
    submitted = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()


class AssignmentSerializer(serializers.Serializer):
    assignment_id = serializers.CharField()
    hit_id = serializers.CharField(source="hit.hit_id")
    worker_id = serializers.CharField(source="worker.external_id")
    set = serializers.UUIDField(source="set_record.public_id", default=None)
    set_status = serializers.CharField(source="set_record.status", default=None)
    mturk_status = serializers.CharField()
    decided_by_us = serializers.BooleanField()
    feedback = serializers.CharField()
    cost = serializers.DecimalField(max_digits=10, decimal_places=2)
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class HitDetailSerializer(HitSerializer):
    assignments = AssignmentSerializer(many=True, source="assignment_rows")


class WorkerSerializer(serializers.Serializer):
    worker_id = serializers.CharField(source="external_id")
    blocked = serializers.BooleanField()
    blocked_reason = serializers.CharField()
    soft_blocked = serializers.SerializerMethodField()
    hard_blocked = serializers.SerializerMethodField()
    sets_accepted = serializers.IntegerField()
    attempts_refused = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    assignments_submitted = serializers.IntegerField(source="mturk_submitted")
    assignments_approved = serializers.IntegerField(source="mturk_approved")
    assignments_rejected = serializers.IntegerField(source="mturk_rejected")
    spent = serializers.DecimalField(max_digits=12, decimal_places=2, source="mturk_spent")
    bonuses = serializers.DecimalField(max_digits=12, decimal_places=2, source="bonus_spent")

    def get_soft_blocked(self, worker) -> bool:
        standing = getattr(worker, "mturk_standing", None)  # the reverse one-to-one may not exist
        return bool(standing and standing.soft_blocked_at)

    def get_hard_blocked(self, worker) -> bool:
        standing = getattr(worker, "mturk_standing", None)
        return bool(standing and standing.hard_blocked_at)


class BlockSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)
    hard = serializers.BooleanField(default=False, help_text="Also CreateWorkerBlock (repeat offenders only).")


class UnblockSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)


class BonusSerializer(serializers.Serializer):
    assignment_id = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField(max_length=4000)


class BonusCreatedSerializer(serializers.Serializer):
    token = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.DecimalField(max_digits=8, decimal_places=2)
    cost = serializers.DecimalField(max_digits=10, decimal_places=2)


class NotifySerializer(serializers.Serializer):
    worker_ids = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=10000)
    batch = serializers.UUIDField(required=False, help_text="Every worker with an assignment in this batch.")
    subject = serializers.CharField(max_length=200)
    message = serializers.CharField(max_length=4096)


class CountSerializer(serializers.Serializer):
    queued = serializers.IntegerField()


class StandingSerializer(serializers.Serializer):
    worker_id = serializers.CharField(source="worker.external_id")
    blocked = serializers.BooleanField(source="worker.blocked")
    soft_blocked = serializers.SerializerMethodField()
    hard_blocked = serializers.SerializerMethodField()

    def get_soft_blocked(self, standing) -> bool:
        return standing.soft_blocked_at is not None

    def get_hard_blocked(self, standing) -> bool:
        return standing.hard_blocked_at is not None
