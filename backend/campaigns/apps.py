from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "backend.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns (the closed loop)"
