from django.urls import path

from . import views

app_name = "predictions"

urlpatterns = [
    path("", views.home, name="home"),
    path("predictions/<str:pk>/", views.detail, name="detail"),
    path("predictions/<str:pk>/<str:filename>", views.download, name="download"),
    path("gallery/", views.gallery, name="gallery"),
    path("random/", views.random_example, name="random"),
]
