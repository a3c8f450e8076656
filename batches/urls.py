from django.urls import path

from batches import views
from predictions.throttling import visitor_throttle

app_name = "batches"

# The batch page's uploads (POST), counted per visitor with pasted lists and the API's.
batch_list = visitor_throttle(
    "batch_upload", "BATCH_UPLOAD_RATE", "batch uploads", when=lambda r: r.method == "POST"
)(views.batch_list)

urlpatterns = [
    path("", batch_list, name="list"),
    path("<str:public_id>/", views.batch_detail, name="detail"),
    path("<str:public_id>/progress/", views.batch_progress, name="progress"),
    path("<str:public_id>/rows/", views.batch_rows, name="rows"),
    path("<str:public_id>/cancel/", views.batch_cancel, name="cancel"),
    path("<str:public_id>/zip/", views.batch_zip, name="zip"),
    path("<str:public_id>/<str:filename>", views.batch_download, name="download"),
]
