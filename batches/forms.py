from django import forms
from django.conf import settings

from molfiles.parsing import mib
from predictions.forms import SiteForm


class BatchForm(SiteForm):
    """What to run. The checks on the input itself (given, size, format) are the service's."""

    file = forms.FileField(
        required=False,
        label="File",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.tsv,.tab,.smi,.smiles,.txt,.sdf,.sd"}
        ),
    )
    text = forms.CharField(
        required=False,
        strip=False,
        label="…or paste SMILES",
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The limits are settings: read them per form, not once at import.
        self.fields["file"].help_text = (
            "CSV, TSV, SMILES (.smi/.txt) or SD file (.sdf), UTF-8 (or UTF-16 with a BOM). "
            f"Up to {mib(settings.BATCH_MAX_UPLOAD_BYTES)} and {settings.BATCH_MAX_ROWS:,} rows."
        )
        self.fields["text"].help_text = (
            "One per line, optionally followed by a name; or CSV/TSV with a header. "
            f"Up to {mib(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}: upload a file for more."
        )
