from django.apps import AppConfig


class MturkConfig(AppConfig):
    name = "backend.mturk"
    label = "mturk"
