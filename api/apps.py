from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API (Django REST framework): the other apps' services and selectors, as JSON."""

    name = "api"
    verbose_name = "API"
