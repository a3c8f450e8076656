from django.apps import AppConfig


class BatchesConfig(AppConfig):
    """Uploaded files and pasted lists of molecules, predicted in the background by Huey."""

    name = "batches"
    verbose_name = "Batches"

    def ready(self) -> None:
        from batches import signals  # noqa: F401  (batch files, copies of verdicts and profiles)
        from batches.views import paste_list
        from predictions import views as catalogue_views

        catalogue_views.take_pasted_lists(paste_list)  # the home page's box: a list is a batch
