from django.contrib import admin

from backend.common.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "status", "done", "total", "message", "created_by"]
    list_filter = ["kind", "status"]
    search_fields = ["id", "message", "error"]
    readonly_fields = [f.name for f in Job._meta.fields]
