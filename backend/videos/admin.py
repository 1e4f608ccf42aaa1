from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from backend.common.errors import DomainError
from backend.videos.models import Dataset, DatasetRole, Video
from backend.videos.services import video_import_start


class ImportForm(forms.Form):
    source = forms.CharField(max_length=2048, help_text="Folder, CSV manifest or s3://bucket/prefix")
    split = forms.ChoiceField(choices=[("", "as in the manifest / train"), ("train", "train"), ("val", "val"),
                                       ("test", "test")], required=False)
    trust_labels = forms.BooleanField(
        required=False, label="Trust the manifest's labels",
        help_text="They are verified already (e.g. Moments in Time): record them as verified positives (source "
                  "'import', with the file, time and who imported them) instead of questions to ask.")
    in_place = forms.BooleanField(
        required=False, label="Reference the files in place",
        help_text="Keep each file where it is (its allowed import root, or its S3 object) instead of copying it "
                  "into the media storage.")


class DatasetRoleInline(admin.TabularInline):
    """The dataset's team: one role per staff user (superusers are curators of every dataset)."""

    model = DatasetRole
    fk_name = "dataset"
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "granted_by", "updated_at"]
    readonly_fields = ["granted_by", "updated_at"]


@admin.register(DatasetRole)
class DatasetRoleAdmin(admin.ModelAdmin):
    list_display = ["dataset", "user", "role", "granted_by", "updated_at"]
    list_filter = ["role", "dataset"]
    search_fields = ["user__username", "dataset__name"]
    autocomplete_fields = ["user", "dataset"]
    readonly_fields = ["granted_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.granted_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "train_answers", "eval_answers", "set_size", "budget", "created_at"]
    search_fields = ["name", "description"]
    actions = ["import_videos"]
    inlines = [DatasetRoleInline]

    def save_formset(self, request, form, formset, change):
        for role in formset.save(commit=False):
            if isinstance(role, DatasetRole):
                role.granted_by = request.user
            role.save()
        for gone in formset.deleted_objects:
            gone.delete()
        formset.save_m2m()

    def get_urls(self):
        extra = [path("<int:pk>/import/", self.admin_site.admin_view(self.import_view), name="videos_dataset_import")]
        return extra + super().get_urls()

    @admin.action(description="Import videos into the selected dataset")
    def import_videos(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one dataset to import into.", messages.ERROR)
            return None
        return redirect(reverse("admin:videos_dataset_import", args=[queryset.get().pk]))

    def import_view(self, request, pk: int):
        dataset = get_object_or_404(Dataset, pk=pk)
        form = ImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            source, split = form.cleaned_data["source"], form.cleaned_data["split"] or None
            try:
                job = video_import_start(dataset=dataset, source=source, split=split, user=request.user,
                                         trust_labels=form.cleaned_data["trust_labels"], via="admin",
                                         in_place=form.cleaned_data["in_place"])
            except DomainError as exc:
                form.add_error("source", exc.message)
            else:
                self.message_user(request, f"Import of {job.params['files']} files started as job {job.id} "
                                           f"({job.params['chunks']} chunk(s)); its progress is under Jobs.",
                                  messages.SUCCESS)
                return redirect(reverse("admin:videos_dataset_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "dataset": dataset,
                   "title": f"Import videos into {dataset.name}"}
        return render(request, "admin/videos/dataset/import_form.html", context)


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "split", "status", "duration", "width", "height", "has_audio", "created_at"]
    list_filter = ["dataset", "status", "split", "has_audio"]
    search_fields = ["name", "source", "checksum", "quarantine_reason"]
    readonly_fields = ["checksum", "storage_key", "source", "size_bytes", "created_at"]
    list_select_related = ["dataset"]
