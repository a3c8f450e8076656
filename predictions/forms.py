from django import forms
from django.conf import settings

from predictions.search import MODES
from predictions.selectors import gallery_sort_choices


class SiteForm(forms.Form):
    """A form whose labels read as written, without Django's default ":" suffix."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PredictForm(SiteForm):
    smiles = forms.CharField(
        label="SMILES",
        strip=True,
        # Written here; Django ties it to the field (aria-describedby, as for the errors).
        help_text="One molecule, for example <code>c1ccccc1O</code> (phenol); or paste a list, "
        "one SMILES a line, optionally followed by a name, to start a batch. "
        "Salts and charges are standardised.",
        error_messages={"required": "Please enter a SMILES string."},
        # A textarea, so a pasted column keeps its lines; Enter still submits (editor.js).
        widget=forms.Textarea(
            attrs={
                "rows": 1,
                "placeholder": "e.g. CC(=O)Oc1ccccc1C(=O)O",
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "smiles-input",
            }
        ),
    )
    keep_private = forms.BooleanField(
        required=False,
        label="Keep private",
        help_text=(
            "Single predictions are shown in the public gallery. With “Keep private” the result"
            " is not listed: only its link opens it. Batch uploads are always private."
        ),
    )


class StructureSearchForm(SiteForm):
    """Name/SMILES text, substructure (SMILES or SMARTS) or similarity search (predictions.search)."""

    q = forms.CharField(
        required=False,
        label="Search SMILES or title",
        max_length=500,
        widget=forms.SearchInput,
    )
    mode = forms.ChoiceField(required=False, label="Search for", choices=list(MODES.items()))
    similarity = forms.FloatField(
        required=False,
        label="Similarity at least",
        min_value=0.1,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )

    def defaults(self) -> dict:
        return {"q": "", "mode": "", "similarity": 0.5}

    def cleaned_or_defaults(self) -> dict:
        """Search terms to use: invalid values fall back to defaults instead of failing."""
        defaults = self.defaults()
        if not self.is_valid():
            return defaults | {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return defaults | {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class GalleryForm(StructureSearchForm):
    featured = forms.BooleanField(required=False, label="Featured only")
    verdict = forms.ChoiceField(
        required=False,
        label="Applicability domain",
        choices=[
            ("", "Any"),
            ("in", "In domain"),
            ("care", "Use with care"),
            ("out", "Out of domain"),
        ],
    )
    page_size = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=settings.GALLERY_PAGE_SIZES[1],
        choices=[(n, str(n)) for n in settings.GALLERY_PAGE_SIZES],
        label="Per page",
    )
    # Newest first, or by one of the loaded model's outputs (selectors.gallery_sort_choices).
    sort = forms.ChoiceField(required=False, label="Sort by")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sort"].choices = gallery_sort_choices()

    def defaults(self) -> dict:
        return {
            **super().defaults(),
            "featured": False,
            "verdict": "",
            "page_size": settings.GALLERY_PAGE_SIZES[1],
            "sort": "",
        }


def molecule_lines(text: str) -> list[str]:
    """The non-blank lines of text pasted into the SMILES box."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_list(text: str) -> bool:
    """Several molecules, not one: what the home page hands to the batches (views.py)."""
    return len(molecule_lines(text)) > 1
