from django.apps import AppConfig


class LabelsConfig(AppConfig):
    name = "backend.labels"
    label = "labels"

    def ready(self) -> None:
        # The data-model apps below announce what concerns labels (see labels/services.py).
        from backend.labels.services import ManifestLabels, labels_move_action
        from backend.videos.services import manifest_labels_register
        from backend.vocabulary.signals import action_merged

        manifest_labels_register(ManifestLabels())
        action_merged.connect(labels_move_action, dispatch_uid="labels.move_action")
