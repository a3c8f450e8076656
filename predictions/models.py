"""Stored predictions: one document/row per (canonical SMILES, model) pair.

Pictures are kept as blobs beside the numbers so a result page and its downloads need
no file storage; list views `defer()` them. Fields stay inside what both SQLite and
django-mongodb-backend support (no AutoField assumptions, millisecond datetimes).
"""

from django.db import models
from django.urls import reverse


class Source(models.TextChoices):
    FORM = "form", "Web form"
    EXAMPLE = "example", "Example set"
    ADMIN = "admin", "Admin"
    BATCH = "batch", "Batch upload"
    API = "api", "API"


class PredictionQuerySet(models.QuerySet):
    def visible(self) -> "PredictionQuerySet":
        return self.filter(hidden=False)

    def without_blobs(self) -> "PredictionQuerySet":
        return self.defer(*Prediction.BLOB_FIELDS)


class Prediction(models.Model):
    BLOB_FIELDS = ("molecule_png", "molecule_svg", "plot_png", "plot_svg")

    input_text = models.TextField(help_text="What the user typed, before standardisation.")
    canonical_smiles = models.CharField(max_length=1000, db_index=True)
    formula = models.CharField(max_length=200, blank=True)
    molecular_weight = models.FloatField(null=True, blank=True)
    standardisation_note = models.CharField(max_length=500, blank=True)

    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=50, blank=True)
    model_hash = models.CharField(max_length=64, help_text="SHA-256 of the weights file(s).")
    # [{"label": ..., "value": ..., "unit": ..., "kind": "regression"|"probability"}, ...]
    outputs = models.JSONField(default=list)

    molecule_png = models.BinaryField(null=True, blank=True, editable=False)
    molecule_svg = models.TextField(blank=True, editable=False)
    plot_png = models.BinaryField(null=True, blank=True, editable=False)
    plot_svg = models.TextField(blank=True, editable=False)

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FORM)
    featured = models.BooleanField(default=False, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    hidden = models.BooleanField(default=False, db_index=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["canonical_smiles", "model_hash"], name="unique_smiles_per_model"
            )
        ]

    def __str__(self) -> str:
        return self.title or self.canonical_smiles

    def get_absolute_url(self) -> str:
        return reverse("predictions:detail", args=[str(self.pk)])

    @property
    def display_name(self) -> str:
        return self.title or self.canonical_smiles
