from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    # No default_auto_field: the project's DEFAULT_AUTO_FIELD picks BigAutoField on SQLite
    # and ObjectIdAutoField on MongoDB.
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        from .batch import signals  # noqa: F401  (connects the batch-file cleanup)
