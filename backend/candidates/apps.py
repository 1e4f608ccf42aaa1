from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "backend.candidates"
    label = "candidates"

    def ready(self) -> None:
        from backend.candidates import selectors  # noqa: F401  (registers its summary kinds)
        from backend.candidates.neighbours import synset_glosses
        from backend.vocabulary.glosses import gloss_provider_set

        gloss_provider_set(synset_glosses)
