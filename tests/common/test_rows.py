"""Model instances built from plain-SQL rows read like the ORM's: converted values, deferred rest."""
from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.utils import timezone

from backend.annotation.models import TaskSet
from backend.common.rows import attnames, columns, instance_from_row
from backend.crowd.models import Worker
from backend.vocabulary.models import Action

pytestmark = pytest.mark.django_db


def test_a_row_reads_as_the_orm_reads_it(dataset):
    worker = Worker.objects.create(provider="inhouse", external_id="rows")
    expires = timezone.now() + timezone.timedelta(hours=1)
    made = TaskSet.objects.create(dataset=dataset, worker=worker, action=Action.objects.filter(dataset=dataset).first(),
                                  expires_at=expires, provider_ref={"assignment_id": "A1"})
    names = ["expires_at", "id", "public_id", "worker_id", "provider_ref", "status"]  # not the model's order
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(TaskSet, names, 't')} FROM {TaskSet._meta.db_table} t WHERE t.id = %s",
                       [made.pk])
        taskset = instance_from_row(TaskSet, names, cursor.fetchone())
    assert isinstance(taskset.public_id, uuid.UUID) and taskset.public_id == made.public_id
    assert taskset.expires_at == expires and timezone.is_aware(taskset.expires_at)
    assert taskset.provider_ref == {"assignment_id": "A1"} and taskset.status == "open"
    assert taskset.get_deferred_fields() == {f for f in attnames(TaskSet) if f not in names}
    assert taskset.max_attempts == made.max_attempts  # a deferred field loads on first use
    assert taskset.worker == worker
