"""Curator admin: thumbnails, search, filters, feature/hide actions, add-by-SMILES."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from predictions import services
from predictions.models import Prediction, Source
from predictions.serving import get_model


class PredictionAddForm(forms.ModelForm):
    """Curators add an example by SMILES; the prediction is computed when it is saved."""

    smiles = forms.CharField(label="SMILES", help_text="The prediction is computed on save.")
    public = forms.BooleanField(
        required=False, initial=True, help_text="Listed in the gallery, search and recent lists."
    )

    class Meta:
        model = Prediction
        fields = ["smiles", "title", "note", "featured", "hidden", "public"]

    def clean_smiles(self) -> str:
        model = get_model()
        try:
            self.parsed = services.parse_for_model(self.cleaned_data["smiles"], model)
        except services.PredictionRefused as refusal:
            raise forms.ValidationError(str(refusal)) from None
        existing = services.find_existing(self.parsed.canonical_smiles, model)
        if existing is not None:
            url = reverse("admin:predictions_prediction_change", args=[existing.pk])
            raise forms.ValidationError(
                format_html(
                    'This molecule is already stored: <a href="{}">edit it instead</a>.', url
                )
            )
        return self.cleaned_data["smiles"]


def _image(obj: Prediction, name: str, width: int) -> str:
    if obj.pk is None:
        return "—"
    url = reverse("predictions:download", args=[obj.public_id, name])
    return format_html('<img src="{}" width="{}" alt="{}">', url, width, obj.canonical_smiles)


MOLECULE_FIELDS = [
    "input_text",
    "canonical_smiles",
    "formula",
    "molecular_weight",
    "standardisation_note",
]
PREDICTION_FIELDS = [
    "outputs",
    "model_name",
    "model_version",
    "model_hash",
    "verdict",
    "domain",
    "source",
    "public_id",
    "published_at",
    "created_at",
    "updated_at",
]


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "__str__",
        "canonical_smiles",
        "featured",
        "hidden",
        "public",
        "verdict",
        "source",
        "model_name",
        "created_at",
    ]
    list_display_links = ["thumbnail", "__str__"]
    list_filter = ["featured", "hidden", "public", "verdict", "model_name", "source", "created_at"]
    search_fields = ["canonical_smiles", "title", "input_text"]
    actions = ["feature", "unfeature", "hide", "unhide"]
    date_hierarchy = None
    list_per_page = 50
    fieldsets = [
        ("Curation", {"fields": ["title", "note", "featured", "hidden", "public"]}),
        ("Pictures", {"fields": ["molecule_preview", "plot_preview"]}),
        ("Molecule", {"fields": MOLECULE_FIELDS}),
        ("Prediction", {"fields": PREDICTION_FIELDS}),
    ]
    # Everything computed is shown, never edited: curators change only the curation fields.
    readonly_fields = ["molecule_preview", "plot_preview", *MOLECULE_FIELDS, *PREDICTION_FIELDS]

    def get_queryset(self, request):
        return super().get_queryset(request).without_blobs()

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = PredictionAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": PredictionAddForm.Meta.fields})]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            built = services.build_prediction(
                parsed=form.parsed,
                model=get_model(),
                source=Source.ADMIN,
                title=obj.title,
                note=obj.note,
                featured=obj.featured,
                hidden=obj.hidden,
                public=obj.public,
            )
            obj.__dict__.update({k: v for k, v in built.__dict__.items() if k != "_state"})
        super().save_model(request, obj, form, change)

    @admin.display(description="Structure")
    def thumbnail(self, obj: Prediction) -> str:
        return _image(obj, "molecule.png", 100)

    @admin.display(description="Molecule")
    def molecule_preview(self, obj: Prediction) -> str:
        return _image(obj, "molecule.svg", 300)

    @admin.display(description="Plot")
    def plot_preview(self, obj: Prediction) -> str:
        return _image(obj, "plot.svg", 500)

    def _bulk_update(self, request, queryset, message: str, **values) -> None:
        # updated_at moves too: cached search candidates (predictions/search.py) notice it.
        count = queryset.update(**values, updated_at=timezone.now())
        self.message_user(request, f"{count} prediction(s) {message}.", messages.SUCCESS)

    @admin.action(description="Feature selected predictions")
    def feature(self, request, queryset):
        self._bulk_update(request, queryset, "featured", featured=True)

    @admin.action(description="Unfeature selected predictions")
    def unfeature(self, request, queryset):
        self._bulk_update(request, queryset, "unfeatured", featured=False)

    @admin.action(description="Hide selected predictions")
    def hide(self, request, queryset):
        self._bulk_update(request, queryset, "hidden", hidden=True)

    @admin.action(description="Show selected predictions again")
    def unhide(self, request, queryset):
        self._bulk_update(request, queryset, "shown again", hidden=False)
