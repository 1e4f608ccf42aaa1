"""Curators browse the pipeline here; every change goes through the services (read-only rows)."""
from django.contrib import admin

from backend.regions.models import Drawing, DrawingSet, FrameAction, Region, RegionFrame


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RegionFrame)
class RegionFrameAdmin(ReadOnly):
    list_display = ["video", "timestamp", "width", "height", "image_key"]
    list_filter = ["dataset"]
    search_fields = ["video__name"]
    list_select_related = ["video"]


@admin.register(FrameAction)
class FrameActionAdmin(ReadOnly):
    list_display = ["frame", "action", "stage", "reason", "visibility_round", "drawings", "drawings_needed"]
    list_filter = ["dataset", "stage", "reason"]
    search_fields = ["frame__video__name", "action__name"]
    list_select_related = ["frame", "action"]


@admin.register(Region)
class RegionAdmin(ReadOnly):
    list_display = ["target", "x0", "y0", "x1", "y1", "support", "min_iou", "state"]
    list_filter = ["state", "target__dataset"]
    list_select_related = ["target"]


@admin.register(DrawingSet)
class DrawingSetAdmin(ReadOnly):
    list_display = ["public_id", "worker", "action", "status", "attempts", "created_at"]
    list_filter = ["dataset", "status"]
    list_select_related = ["worker", "action"]


@admin.register(Drawing)
class DrawingAdmin(ReadOnly):
    list_display = ["target", "worker", "skipped", "boxes", "excluded", "created_at"]
    list_filter = ["skipped", "excluded"]
    list_select_related = ["target", "worker"]
