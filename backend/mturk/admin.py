from django.contrib import admin

from backend.mturk.models import Assignment, Batch, Bonus, Hit, HitType, Notice, QualificationType, Standing


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["public_id", "dataset", "prompt", "sandbox", "status", "hits_requested", "reward", "budget",
                    "created_at"]
    list_filter = ["sandbox", "status"]
    readonly_fields = [f.name for f in Batch._meta.fields]


@admin.register(Hit)
class HitAdmin(admin.ModelAdmin):
    list_display = ["hit_id", "token", "batch", "status", "max_assignments", "cost_committed", "expires_at"]
    list_filter = ["status"]
    search_fields = ["hit_id", "token"]
    readonly_fields = [f.name for f in Hit._meta.fields]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["assignment_id", "hit", "worker", "mturk_status", "decided_by_us", "cost", "submitted_at"]
    list_filter = ["mturk_status"]
    search_fields = ["assignment_id", "worker__external_id"]
    readonly_fields = [f.name for f in Assignment._meta.fields]


@admin.register(Bonus)
class BonusAdmin(admin.ModelAdmin):
    list_display = ["assignment", "worker", "amount", "status", "paid_at"]
    readonly_fields = [f.name for f in Bonus._meta.fields]


admin.site.register([HitType, QualificationType, Notice, Standing])
