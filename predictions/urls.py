from django.urls import path

from . import model_views, views
from .api.throttling import visitor_throttle
from .batch import views as batch_views

app_name = "predictions"

# The batch page's uploads (POST), counted per visitor with pasted lists and the API's.
batch_list = visitor_throttle(
    "batch_upload", "BATCH_UPLOAD_RATE", "batch uploads", when=lambda r: r.method == "POST"
)(batch_views.batch_list)

urlpatterns = [
    path("", views.home, name="home"),
    path("predictions/<str:public_id>/", views.detail, name="detail"),
    path("predictions/<str:public_id>/<str:filename>", views.download, name="download"),
    path("gallery/", views.gallery, name="gallery"),
    path("random/", views.random_example, name="random"),
    path("model/", model_views.model_card, name="model"),
    path(
        "model/molecules/<int:index>.svg", model_views.training_molecule, name="training_molecule"
    ),
    path("batches/", batch_list, name="batch_list"),
    path("batches/<str:public_id>/", batch_views.batch_detail, name="batch_detail"),
    path("batches/<str:public_id>/progress/", batch_views.batch_progress, name="batch_progress"),
    path("batches/<str:public_id>/rows/", batch_views.batch_rows, name="batch_rows"),
    path("batches/<str:public_id>/cancel/", batch_views.batch_cancel, name="batch_cancel"),
    path("batches/<str:public_id>/zip/", batch_views.batch_zip, name="batch_zip"),
    path(
        "batches/<str:public_id>/<str:filename>", batch_views.batch_download, name="batch_download"
    ),
]
