from django import forms
from django.conf import settings


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
        help_text="One molecule, for example <code>c1ccccc1O</code> (phenol). "
        "Salts and charges are standardised.",
        error_messages={"required": "Please enter a SMILES string."},
        widget=forms.TextInput(
            attrs={
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


class GalleryForm(SiteForm):
    q = forms.CharField(
        required=False, label="Search SMILES or title", max_length=200, widget=forms.SearchInput
    )
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

    def cleaned_or_defaults(self) -> dict:
        """Search terms to use: invalid values fall back to defaults instead of failing."""
        defaults = {
            "q": "",
            "featured": False,
            "verdict": "",
            "page_size": settings.GALLERY_PAGE_SIZES[1],
        }
        if not self.is_valid():
            return defaults | {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return defaults | {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
