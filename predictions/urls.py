from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("", views.home, name="home"),
    path("predictions/<str:public_id>/", views.detail, name="detail"),
    path("predictions/<str:public_id>/<str:filename>", views.download, name="download"),
    path("gallery/", views.gallery, name="gallery"),
    path("random/", views.random_example, name="random"),
    path("model/", views.model_card, name="model"),
    path("model/molecules/<int:index>.svg", views.training_molecule, name="training_molecule"),
]
