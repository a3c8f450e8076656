from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    """The catalogue: stored predictions, their pages, gallery, search and downloads."""

    # No default_auto_field: the project's DEFAULT_AUTO_FIELD picks BigAutoField on SQLite
    # and ObjectIdAutoField on MongoDB.
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        from django.conf import settings

        from chemreport import rendering

        rendering.depiction_budget = lambda: settings.DEPICTION_BUDGET_SECONDS
