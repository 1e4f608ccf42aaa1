from django import forms
from django.contrib import admin, messages

from backend.campaigns.models import Campaign
from backend.campaigns.services import EDITABLE, campaign_pause, campaign_resume, campaign_save, settings_clean
from backend.common.errors import DomainError


class CampaignForm(forms.ModelForm):
    """The admin's form checks the settings as the dashboard and the service do."""

    class Meta:
        model = Campaign
        fields = ("dataset", *EDITABLE)

    def clean(self):
        data = super().clean()
        try:
            settings_clean({k: data[k] for k in EDITABLE if k in data})
        except DomainError as error:
            raise forms.ValidationError({error.field: error.message} if error.field else error.message) from error
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("dataset", "status", "step", "rounds_done", "max_rounds", "spent", "budget", "reason")
    list_filter = ("status", "step")
    readonly_fields = ("status", "step", "reason", "rounds_done", "job", "candidate_round", "batch", "release",
                       "model_run", "step_started_at", "spent", "history", "created_at", "updated_at")
    actions = ("pause", "resume")
    form = CampaignForm

    def save_model(self, request, obj, form, change):
        """Through the service: history, checks, and a first step at once for a new campaign."""
        saved = campaign_save(dataset=obj.dataset, user=request.user.get_username(),
                              **{name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data})
        obj.pk = saved.pk

    def _each(self, request, queryset, act) -> None:
        for campaign in queryset:
            try:
                act(campaign=campaign, user=request.user)
            except DomainError as error:
                self.message_user(request, f"{campaign}: {error.message}", messages.ERROR)

    @admin.action(description="Pause the selected campaigns")
    def pause(self, request, queryset):
        self._each(request, queryset, campaign_pause)

    @admin.action(description="Resume the selected campaigns")
    def resume(self, request, queryset):
        self._each(request, queryset, campaign_resume)
