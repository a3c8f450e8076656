from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SMILES property predictor: curation"
admin.site.site_title = "SMILES predictor admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("predictions.urls")),
]
