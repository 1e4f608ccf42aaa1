from django.apps import AppConfig


class CrowdConfig(AppConfig):
    name = "backend.crowd"
    label = "crowd"
