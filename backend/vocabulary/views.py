"""Staff API for the vocabulary: list, add, edit, rename, merge, remove, migrate."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.errors import NotFound
from backend.videos.selectors import dataset_get
from backend.vocabulary import services
from backend.vocabulary.models import Action
from backend.vocabulary.selectors import action_list, vocabulary_events
from backend.vocabulary.serializers import (
    ActionCreateSerializer,
    ActionSerializer,
    ActionUpdateSerializer,
    MergeSerializer,
    MigrateReportSerializer,
    MigrateSerializer,
    RemoveSerializer,
    RenameSerializer,
    VocabularyEventSerializer,
)

UNKNOWN_ACTION_ID = "Dataset {dataset!r} has no action with id {id}."


def _action(dataset, action_id: int) -> Action:
    action = Action.objects.filter(dataset=dataset, pk=action_id).select_related("dataset").first()
    if action is None:
        raise NotFound(UNKNOWN_ACTION_ID.format(dataset=dataset.name, id=action_id))
    return action


def _validated(serializer_class, request):
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class ActionListCreate(generics.ListAPIView):
    serializer_class = ActionSerializer

    def get_queryset(self):
        dataset = dataset_get(name=self.kwargs["name"])
        return action_list(dataset=dataset, status=self.request.query_params.get("status", "active") or None)

    @extend_schema(request=ActionCreateSerializer, responses={201: ActionSerializer})
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        action = services.action_add(dataset=dataset, actor=request.user, **_validated(ActionCreateSerializer, request))
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


class ActionDetail(APIView):
    @extend_schema(responses=ActionSerializer)
    def get(self, request, name: str, pk: int):
        return Response(ActionSerializer(_action(dataset_get(name=name), pk)).data)

    @extend_schema(request=ActionUpdateSerializer, responses=ActionSerializer)
    def patch(self, request, name: str, pk: int):
        action = _action(dataset_get(name=name), pk)
        action = services.action_update(action=action, actor=request.user, **_validated(ActionUpdateSerializer, request))
        return Response(ActionSerializer(action).data)


class ActionRename(APIView):
    @extend_schema(request=RenameSerializer, responses=ActionSerializer)
    def post(self, request, name: str, pk: int):
        data = _validated(RenameSerializer, request)
        action = services.action_rename(action=_action(dataset_get(name=name), pk), new_name=data["name"],
                                        display_name=data["display_name"], actor=request.user)
        return Response(ActionSerializer(action).data)


class ActionMerge(APIView):
    @extend_schema(request=MergeSerializer, responses=ActionSerializer)
    def post(self, request, name: str, pk: int):
        dataset = dataset_get(name=name)
        data = _validated(MergeSerializer, request)
        source, target = _action(dataset, pk), _action(dataset, data["into"])
        services.action_merge(source=source, target=target, actor=request.user)
        source.refresh_from_db()
        return Response(ActionSerializer(source).data)


class ActionRemove(APIView):
    @extend_schema(request=RemoveSerializer, responses=ActionSerializer)
    def post(self, request, name: str, pk: int):
        data = _validated(RemoveSerializer, request)
        action = services.action_remove(action=_action(dataset_get(name=name), pk), reason=data["reason"],
                                        actor=request.user)
        return Response(ActionSerializer(action).data)


class VocabularyMigrate(APIView):
    """Migrate to a new list of names; `dry_run` (the default) only reports the changes."""

    @extend_schema(request=MigrateSerializer, responses=MigrateReportSerializer)
    def post(self, request, name: str):
        data = _validated(MigrateSerializer, request)
        diff = services.vocabulary_migrate(dataset=dataset_get(name=name), target=data["names"],
                                           merges=data["merges"], dry_run=data["dry_run"], actor=request.user,
                                           origin="api")
        return Response({"dry_run": data["dry_run"], **diff.as_dict()})


class VocabularyEventList(generics.ListAPIView):
    serializer_class = VocabularyEventSerializer

    def get_queryset(self):
        return vocabulary_events(dataset=dataset_get(name=self.kwargs["name"]))
