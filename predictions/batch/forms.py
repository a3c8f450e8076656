from django import forms
from django.conf import settings

from .parsing import mib, too_large_message


class BatchForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="File",
        help_text=(
            "CSV, TSV, SMILES (.smi/.txt) or SD file (.sdf), UTF-8 (or UTF-16 with a BOM). "
            f"Up to {mib(settings.BATCH_MAX_UPLOAD_BYTES)} and "
            f"{settings.BATCH_MAX_ROWS:,} rows."
        ),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.tsv,.tab,.smi,.smiles,.txt,.sdf,.sd"}
        ),
    )
    text = forms.CharField(
        required=False,
        strip=False,
        label="…or paste SMILES",
        help_text=(
            "One per line, optionally followed by a name; or CSV/TSV with a header. "
            f"Up to {mib(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}: upload a file for more."
        ),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
    )
    smiles_column = forms.CharField(
        required=False,
        max_length=200,
        label="SMILES column",
        help_text="Leave blank to detect it (smiles, structure, …).",
    )
    id_column = forms.CharField(
        required=False,
        max_length=200,
        label="ID column",
        help_text="Leave blank to detect it (id, name, compound_id, …).",
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        limit = settings.BATCH_MAX_UPLOAD_BYTES
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(too_large_message(upload.size, limit))
        return upload

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some SMILES.")
        return data
