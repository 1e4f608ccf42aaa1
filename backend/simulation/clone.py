"""Fresh copies of a dataset's starting point, so strategies are compared on equal footing."""
from __future__ import annotations

from django.db import transaction

from backend.annotation.models import GoldQuestion, Question, TaskSet
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


@transaction.atomic
def dataset_clone_initial(*, source: Dataset, name: str, **policy) -> Dataset:
    """Copy the vocabulary, the videos (same stored files), the initial labels (undecided), the
    trusted imported labels (verified) and the gold of `source` into a new dataset `name`
    (replaced if it exists)."""
    old = Dataset.objects.filter(name=name).first()
    if old is not None:
        # children first: labels and questions protect the actions they point at
        for model in (TaskSet, Question, GoldQuestion, Label):
            model.objects.filter(dataset=old).delete()
        old.delete()
    fields = {f.name: getattr(source, f.name) for f in Dataset._meta.concrete_fields
              if f.name not in ("id", "name", "created_at")}
    clone = Dataset.objects.create(**{**fields, **policy, "name": name})
    actions = {}
    for a in Action.objects.filter(dataset=source).order_by("id"):
        actions[a.pk] = Action.objects.create(dataset=clone, name=a.name, display_name=a.display_name,
                                              definition=a.definition, definition_generated=a.definition_generated,
                                              synonyms=a.synonyms, synsets=a.synsets,
                                              synsets_curated=a.synsets_curated, status=a.status)
    for a in Action.objects.filter(dataset=source, merged_into__isnull=False):
        Action.objects.filter(pk=actions[a.pk].pk).update(merged_into=actions[a.merged_into_id])
    videos = list(Video.objects.filter(dataset=source).order_by("id"))
    copies = Video.objects.bulk_create([
        Video(**{f.name: getattr(v, f.name) for f in Video._meta.concrete_fields if f.name not in ("id", "dataset")},
              dataset=clone) for v in videos
    ])
    video_map = {v.pk: c.pk for v, c in zip(videos, copies)}
    # the starting labels: initial ones undecided, trusted imports as they were verified
    Label.objects.bulk_create([
        Label(dataset=clone, video_id=video_map[l.video_id], action=actions[l.action_id],
              asked_action=actions[l.asked_action_id], source=l.source,
              **({"state": l.state, "decided_at": l.decided_at} if l.source == Label.Source.IMPORT else {}))
        for l in Label.objects.filter(dataset=source, source__in=(Label.Source.INITIAL, Label.Source.IMPORT))
    ])
    GoldQuestion.objects.bulk_create([
        GoldQuestion(dataset=clone, action=actions[g.action_id], prompt=g.prompt, video_id=video_map[g.video_id],
                     image_key=g.image_key, truth=g.truth, boxes=g.boxes, active=g.active, note=g.note)
        for g in GoldQuestion.objects.filter(dataset=source)
    ])
    return clone
