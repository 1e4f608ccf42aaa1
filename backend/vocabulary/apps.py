from django.apps import AppConfig


class VocabularyConfig(AppConfig):
    name = "backend.vocabulary"
    label = "vocabulary"
