from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SMILES property predictor: curation"
admin.site.site_title = "SMILES predictor admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("batches/", include("batches.urls")),
    path("", include("predictions.urls")),
]

# JSON under /api/, the site's pages elsewhere.
handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
