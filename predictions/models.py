"""Stored predictions: one document/row per (canonical SMILES, model) pair.

Pictures are kept as blobs beside the numbers so a result page and its downloads need
no file storage; list views `defer()` them. Fields stay inside what both SQLite and
django-mongodb-backend support (no AutoField assumptions, millisecond datetimes).
"""

import base64
import secrets

from django.db import models
from django.urls import reverse
from django.utils import timezone


def new_public_id() -> str:
    """An unguessable id for URLs: 120 random bits as 24 lowercase base32 characters.

    Letters and digits only (never a leading '-' or '_'), the same on SQLite and MongoDB;
    sequential keys (and time-ordered ObjectIds) never appear in a URL.
    """
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


PUBLIC_ID_LENGTH = 24


class Source(models.TextChoices):
    FORM = "form", "Web form"
    EXAMPLE = "example", "Example set"
    ADMIN = "admin", "Admin"
    BATCH = "batch", "Batch upload"
    API = "api", "API"


class PredictionQuerySet(models.QuerySet):
    def visible(self) -> "PredictionQuerySet":
        """Not hidden by a curator: served to whoever has its link."""
        return self.filter(hidden=False)

    def listed(self) -> "PredictionQuerySet":
        """Public and not hidden: shown in the gallery, search, random and recent lists."""
        return self.filter(hidden=False, public=True)

    def without_blobs(self) -> "PredictionQuerySet":
        return self.defer(*Prediction.BLOB_FIELDS)


class Prediction(models.Model):
    """One molecule predicted by one model.

    `public` is set when a public single prediction, an example or a curator stores or
    reuses it; molecules seen only in batches or "keep private" predictions stay unlisted
    and are reached only by their `public_id` link. `published_at` (not `created_at`) orders
    the lists, so a molecule made public late cannot be told from a new one.
    """

    BLOB_FIELDS = ("molecule_png", "molecule_svg", "plot_png", "plot_svg")

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
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
    # Applicability domain, judged when predicted (predictions.domain.Domain.assess):
    # {"verdict": "in"|"care"|"out", "reasons": [...], "outputs": [{label, verdict, reasons,
    #  nearest_similarity}]}; {} for predictions stored before the check existed.
    domain = models.JSONField(default=dict, blank=True)
    # domain["verdict"], as a plain column: filtered on any backend without JSON lookups.
    verdict = models.CharField(max_length=5, blank=True, db_index=True)
    # Exact RDKit profile of the canonical SMILES (chemreport.profile): descriptors, rule
    # violations, structural alerts with atom indices. Computed once: when predicted, or, for
    # a batch's new molecules, by the batch's second pass (batches/worker/profiles.py).
    profile = models.JSONField(default=dict, blank=True)
    # True until that second pass (or a first view or export) stores the profile.
    profile_pending = models.BooleanField(default=False, db_index=True, editable=False)
    # Structure search (predictions/search.py): Morgan r=2 2,048-bit and pattern fingerprints
    # as packed bytes, and the Morgan popcount for the similarity bound; computed when stored.
    morgan_fp = models.BinaryField(null=True, blank=True, editable=False)
    morgan_bits = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    pattern_fp = models.BinaryField(null=True, blank=True, editable=False)

    molecule_png = models.BinaryField(null=True, blank=True, editable=False)
    molecule_svg = models.TextField(blank=True, editable=False)
    plot_png = models.BinaryField(null=True, blank=True, editable=False)
    plot_svg = models.TextField(blank=True, editable=False)

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FORM)
    featured = models.BooleanField(default=False, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    hidden = models.BooleanField(default=False, db_index=True)
    public = models.BooleanField(
        default=False, db_index=True, help_text="Listed in the gallery, search and recent lists."
    )
    published_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

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
        # Covering indexes for structure search (predictions/search.py): a search reads only
        # them, never the rows with their pictures (SQLite would walk each row's overflow
        # pages: 4.5 s instead of 0.3 s for 100,000 rows with two 20 kB SVGs, measured).
        indexes = [
            models.Index(
                fields=["morgan_bits", "hidden", "public", "featured", "verdict", "morgan_fp"],
                name="prediction_similar",
            ),
            models.Index(
                fields=[
                    "hidden",
                    "public",
                    "featured",
                    "published_at",
                    "verdict",
                    "pattern_fp",
                    "canonical_smiles",
                ],
                name="prediction_substructure",
            ),
            # The similarity cache's check that nothing changed: MAX() by one index look-up.
            models.Index(fields=["updated_at"], name="prediction_updated"),
        ]

    def __str__(self) -> str:
        return self.title or self.canonical_smiles

    def save(self, *args, **kwargs) -> None:
        if self.public and self.published_at is None:
            self.published_at = timezone.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("predictions:detail", args=[self.public_id])
