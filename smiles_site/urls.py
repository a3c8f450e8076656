from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SMILES property predictor: curation"
admin.site.site_title = "SMILES predictor admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("predictions.api.urls")),
    path("", include("predictions.urls")),
]

# JSON under /api/, the site's pages elsewhere.
handler404 = "predictions.api.errors.not_found"
handler500 = "predictions.api.errors.server_error"
