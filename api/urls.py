from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)

from . import views

app_name = "api"

urlpatterns = [
    path("predict", views.PredictView.as_view(), name="predict"),
    path("predictions", views.PredictionListView.as_view(), name="predictions"),
    path("predictions/<str:public_id>", views.PredictionDetailView.as_view(), name="prediction"),
    path("model", views.ModelView.as_view(), name="model"),
    path("batches", views.BatchListView.as_view(), name="batches"),
    path("batches/<str:public_id>", views.BatchDetailView.as_view(), name="batch"),
    path("batches/<str:public_id>/cancel", views.BatchCancelView.as_view(), name="batch_cancel"),
    path("batches/<str:public_id>/rows", views.BatchRowsView.as_view(), name="batch_rows"),
    path("batches/<str:public_id>/zip", views.BatchZipView.as_view(), name="batch_zip"),
    path(
        "batches/<str:public_id>/<str:filename>",
        views.BatchDownloadView.as_view(),
        name="batch_download",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split view: the page's script is a separate file, so a strict CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
