"""What the API reads and writes. Every output carries its value, uncertainty (σ) and
applicability-domain verdict, read from the same stored records as the result page.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches.files.downloads import NAMES as BATCH_DOWNLOADS
from batches.models import Batch, BatchRow
from batches.selectors import batch_progress
from chemcore import domain
from chemreport import salts, units
from molfiles.parsing import public_message
from predictions.downloads.exports import DOWNLOADS
from predictions.models import Prediction
from predictions.serving import reference
from predictions.templatetags import trust

VERDICT_HELP = (
    "Applicability domain: in (in domain), care (use with care) or out (out of domain); "
    "the worst of the reasons that apply. null: predicted before the check existed."
)


class ReportingLimitSerializer(serializers.Serializer):
    """An assay's reporting limit that the predicted value passed."""

    side = serializers.ChoiceField(
        choices=["below", "above"], help_text="The value is below the lowest or above the highest."
    )
    value = serializers.FloatField(help_text="The limit, in the output's (log) unit.")


class OutputDomainSerializer(serializers.Serializer):
    """One output's applicability-domain verdict, as the result page shows it."""

    verdict = serializers.ChoiceField(
        choices=list(domain.VERDICT_LABELS.items()),
        help_text="in, care or out for this output: its own reasons and the molecule's "
        "(prediction.domain.reasons) together, worst wins.",
    )
    verdict_label = serializers.CharField(help_text="The verdict in words, as on the page.")
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why, for this output only (size, similarity, value range, uncertainty); "
        "the molecule's own reasons are in prediction.domain.reasons.",
    )
    nearest_similarity = serializers.FloatField(
        allow_null=True,
        min_value=0,
        max_value=1,
        help_text="Tanimoto similarity (Morgan radius 2, 2,048 bits) of the most similar "
        "training molecule measured for this output; null without a training set.",
    )
    limit = ReportingLimitSerializer(
        allow_null=True,
        help_text="Set where the value passed a limit the assay reports at (many training "
        "molecules sit on it, e.g. a clearance floor): read the value as at or past the limit. "
        "The verdict stays as the other reasons make it.",
    )


class OutputSerializer(serializers.Serializer):
    """One predicted property with its uncertainty and applicability-domain verdict."""

    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    value = serializers.FloatField(help_text="Full precision (pages round it).")
    kind = serializers.ChoiceField(choices=["regression", "probability"], required=False)
    uncertainty = serializers.FloatField(
        allow_null=True,
        help_text=units.UNCERTAINTY_HELP + " null: the model gives none.",
    )
    domain = OutputDomainSerializer(allow_null=True, help_text=VERDICT_HELP)


def served_outputs(outputs: list[dict], stored_domain: dict | None) -> list[dict]:
    """Stored outputs with each one's verdict, read from the stored domain record exactly as
    the result page reads it (templatetags.trust.domain_for)."""
    served = []
    for output in outputs or []:
        judged = trust.domain_for(stored_domain, output["label"])
        served.append(
            {
                "label": output["label"],
                "unit": output.get("unit") or "",
                "value": output["value"],
                "kind": output.get("kind") or "regression",
                "uncertainty": output.get("uncertainty"),
                "domain": {
                    "verdict": judged["verdict"],
                    "verdict_label": domain.verdict_label(judged["verdict"]),
                    "reasons": list(judged.get("reasons") or []),
                    "nearest_similarity": judged.get("nearest_similarity"),
                    "limit": judged.get("limit"),
                }
                if judged.get("verdict")
                else None,
            }
        )
    return served


@extend_schema_field(OutputSerializer(many=True))
class OutputsField(serializers.Field):
    """The stored outputs, each with its verdict from the stored domain record (`source="*"`:
    the record's `outputs` and `domain`)."""

    def to_representation(self, record) -> list[dict]:
        return OutputSerializer(served_outputs(record.outputs, record.domain), many=True).data


class DomainSerializer(serializers.Serializer):
    """The molecule's overall applicability-domain verdict, as the result page shows it."""

    verdict = serializers.ChoiceField(
        choices=list(domain.VERDICT_LABELS.items()), help_text="The worst verdict of any output."
    )
    verdict_label = serializers.CharField(help_text="The verdict in words, as on the page.")
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="What holds for every output: what kind of species this is (metal, "
        "element absent from the training molecules, inorganic, ion...).",
    )
    all_reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every reason the result page lists: these, then each output's, prefixed "
        "with its label.",
    )


@extend_schema_field(DomainSerializer(allow_null=True, help_text=VERDICT_HELP))
class DomainField(serializers.Field):
    """The stored domain record's overall verdict (null when never assessed)."""

    def to_representation(self, stored: dict | None) -> dict | None:
        if not stored or not stored.get("verdict"):
            return None
        return DomainSerializer(
            {
                "verdict": stored["verdict"],
                "verdict_label": domain.verdict_label(stored["verdict"]),
                "reasons": list(stored.get("reasons") or []),
                "all_reasons": domain.all_reasons(stored),
            }
        ).data


PARENT_NOTE_HELP = (
    "For a salt or mixture input: the values are for the parent compound (counter-ions "
    "removed; the model is trained on neutral parent compounds), why the salt as given can "
    "differ, and how salts of its kind measured against their parent's predicted logS in "
    "AqSolDB (in the parent's solubility bin). Empty for other inputs."
)


class AlertSchema(serializers.Serializer):
    """One structural alert from RDKit's FilterCatalog (documentation only)."""

    set = serializers.CharField(help_text="PAINS_A, PAINS_B, PAINS_C, Brenk or NIH.")
    name = serializers.CharField()
    atoms = serializers.ListField(
        child=serializers.IntegerField(), help_text="Matched atoms, indexed in canonical_smiles."
    )


class ProfileSchema(serializers.Serializer):
    """The exact RDKit profile (documentation only: served as stored; empty if none)."""

    version = serializers.IntegerField(required=False)
    mw = serializers.FloatField(required=False, help_text="Average molecular weight, g/mol.")
    exact_mass = serializers.FloatField(required=False, help_text="Monoisotopic mass, Da.")
    clogp = serializers.FloatField(required=False, help_text="Crippen cLogP.")
    tpsa = serializers.FloatField(required=False, help_text="Topological polar surface area, Å².")
    hbd = serializers.IntegerField(required=False, help_text="NH + OH (Lipinski).")
    hba = serializers.IntegerField(required=False, help_text="N + O (Lipinski).")
    rotatable_bonds = serializers.IntegerField(required=False)
    aromatic_rings = serializers.IntegerField(required=False)
    fraction_sp3 = serializers.FloatField(required=False)
    qed = serializers.FloatField(required=False)
    stereocentres = serializers.IntegerField(required=False, help_text="Assigned or not.")
    unassigned_stereocentres = serializers.IntegerField(required=False)
    lipinski_violations = serializers.IntegerField(required=False)
    lipinski_broken = serializers.ListField(child=serializers.CharField(), required=False)
    veber_violations = serializers.IntegerField(required=False)
    veber_broken = serializers.ListField(child=serializers.CharField(), required=False)
    alerts = AlertSchema(many=True, required=False)


@extend_schema_field(ProfileSchema)
class ProfileField(serializers.JSONField):
    """The stored profile dict, unchanged."""


PERCENTILES_HELP = (
    "By output label: the percent of approved drugs this model predicts lower (ties count "
    "half), 0-100; null where there is none."
)


class ApprovedDrugsSchema(serializers.Serializer):
    """Where each value falls among approved drugs (documentation only: reference.json_context)."""

    source = serializers.CharField(help_text="The approved-drug list.")
    drugs = serializers.IntegerField(help_text="How many approved drugs the reference holds.")
    weights_sha256 = serializers.CharField(help_text="The weights the reference was made for.")
    percentiles = serializers.DictField(
        child=serializers.FloatField(allow_null=True, min_value=0, max_value=100),
        help_text=PERCENTILES_HELP,
    )


def absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def links(request, base: str, names) -> dict[str, str]:
    """{name: absolute URL of base + name} for each download name."""
    return {name: absolute(request, base + name) for name in names}


class SaltEstimateSchema(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[k for k in salts.KINDS if k != "water"],
        help_text="What standardisation removed: "
        + "; ".join(f"{k}: {words}" for k, words in salts.KINDS.items() if k != "water"),
    )
    n = serializers.IntegerField(help_text="AqSolDB salts of this kind the figures rest on.")
    parent_bin = serializers.CharField(
        help_text="The parent's predicted-logS bin they were taken from ('' when all salts of "
        "the kind were: too few in the bin)."
    )
    share_above = serializers.FloatField(
        help_text="Share of them whose measured logS was above their parent's predicted logS."
    )
    median_difference = serializers.FloatField(
        help_text="Median of (measured salt logS - predicted parent logS), log units."
    )
    logS = serializers.FloatField(
        required=False,
        help_text="For this salt as given: the parent's logS plus the median difference.",
    )
    low = serializers.FloatField(required=False, help_text="Parent's logS plus the lower quartile.")
    high = serializers.FloatField(
        required=False,
        help_text="Parent's logS plus the upper quartile (low-high: the middle half).",
    )


SALT_HELP = (
    "For a salt or mixture input: how salts of its kind measured against their parent's "
    "predicted logS in AqSolDB (bench/bench_salts.py) and what that suggests for this salt as "
    "given; not a model output (the model predicts the parent). null for other inputs and "
    "hydrates."
)


class PredictionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    url = serializers.SerializerMethodField(help_text="The result page.")
    outputs = OutputsField(source="*")
    domain = DomainField()
    parent_note = serializers.SerializerMethodField(help_text=PARENT_NOTE_HELP)
    salt = serializers.SerializerMethodField(help_text=SALT_HELP)
    profile = ProfileField(help_text="Exact RDKit profile: computed (RDKit), not predicted.")
    approved_drugs = serializers.SerializerMethodField(
        help_text=(
            "Each output's percentile among approved drugs predicted by the same model; null "
            "without a reference made for these weights."
        )
    )
    model = serializers.SerializerMethodField()
    published_at = serializers.SerializerMethodField(
        help_text="When it was listed; null for a private (link-only) prediction."
    )
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = [
            "id",
            "url",
            "canonical_smiles",
            "formula",
            "molecular_weight",
            "title",
            "standardisation_note",
            "parent_note",
            "salt",
            "outputs",
            "domain",
            "profile",
            "approved_drugs",
            "model",
            "public",
            "featured",
            "published_at",
            "downloads",
        ]
        read_only_fields = fields

    def get_url(self, prediction: Prediction) -> str:
        return absolute(self.context.get("request"), prediction.get_absolute_url())

    def get_parent_note(self, prediction: Prediction) -> str:
        return salts.parent_note(
            prediction.standardisation_note, prediction.formula, prediction.outputs
        )

    @extend_schema_field(SaltEstimateSchema(allow_null=True))
    def get_salt(self, prediction: Prediction) -> dict | None:
        return salts.estimate_for(prediction.standardisation_note, prediction.outputs)

    @extend_schema_field(ApprovedDrugsSchema(allow_null=True))
    def get_approved_drugs(self, prediction: Prediction) -> dict | None:
        return reference.json_context(prediction.model_hash, prediction.outputs)

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "weights_sha256": {"type": "string"},
            },
        }
    )
    def get_model(self, prediction: Prediction) -> dict:
        return {
            "name": prediction.model_name,
            "version": prediction.model_version,
            "weights_sha256": prediction.model_hash,
        }

    def get_published_at(self, prediction: Prediction) -> str | None:
        # A private result shows no date: nothing reveals when it was first predicted.
        if not prediction.public or prediction.published_at is None:
            return None
        return serializers.DateTimeField().to_representation(prediction.published_at)

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_downloads(self, prediction: Prediction) -> dict:
        return links(self.context.get("request"), prediction.get_absolute_url(), DOWNLOADS)


class MeasuredValueSerializer(serializers.Serializer):
    label = serializers.CharField()
    unit = serializers.CharField(allow_blank=True)
    value = serializers.FloatField(allow_null=True, help_text="Measured; null: not measured.")


class NeighbourSerializer(serializers.Serializer):
    """A training molecule most like this one, as the result page lists it."""

    smiles = serializers.CharField(help_text="Canonical SMILES of the training molecule.")
    similarity = serializers.FloatField(
        min_value=0, max_value=1, help_text="Tanimoto (Morgan radius 2, 2,048 bits)."
    )
    measured = MeasuredValueSerializer(many=True, help_text="Its measured value per output.")


class PredictionDetailSerializer(PredictionSerializer):
    """One prediction by id: also the nearest measured molecules the result page shows."""

    nearest_measured = serializers.SerializerMethodField(
        help_text="The five training molecules most similar to this one, most similar first, "
        "with their measured values; empty when another model made the prediction."
    )

    class Meta(PredictionSerializer.Meta):
        fields = [*PredictionSerializer.Meta.fields, "nearest_measured"]
        read_only_fields = fields

    @extend_schema_field(NeighbourSerializer(many=True))
    def get_nearest_measured(self, prediction: Prediction) -> list[dict]:
        from predictions.services import nearest_measured  # loads the model's training set

        return NeighbourSerializer(nearest_measured(prediction), many=True).data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ]
    }
)
class SmilesOrListField(serializers.JSONField):
    """A SMILES string or a list of them."""


class PredictSerializer(serializers.Serializer):
    smiles = SmilesOrListField(
        help_text=(
            "One SMILES string, or a list of them (at most API_MAX_MOLECULES, 100 by default)."
        )
    )
    public = serializers.BooleanField(
        default=False,
        help_text="List new results in the gallery and search (API results are private).",
    )

    def validate_smiles(self, value) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise serializers.ValidationError("Give a SMILES string or a non-empty list of them.")
        if not all(isinstance(item, str) for item in items):
            raise serializers.ValidationError("Every item must be a SMILES string.")
        if len(items) > settings.API_MAX_MOLECULES:
            raise serializers.ValidationError(
                f"At most {settings.API_MAX_MOLECULES} molecules per call; use a batch for more."
            )
        return items


class PredictResultSerializer(serializers.Serializer):
    """One input's outcome: `ok` with its stored prediction, or the reason it was refused."""

    input = serializers.CharField()
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Why RDKit or the model refused it.")
    created = serializers.BooleanField(
        required=False,
        help_text=(
            "Predicted now. False only for a listed (public) molecule, whose stored result was "
            "reused; a molecule known only privately is predicted again and says true, as a "
            "never-seen one does."
        ),
    )
    standardisation_note = serializers.CharField(
        required=False, help_text="What standardisation removed from this input, if anything."
    )
    parent_note = serializers.CharField(required=False, help_text=PARENT_NOTE_HELP)
    prediction = PredictionSerializer(required=False)


class PredictResponseSerializer(serializers.Serializer):
    results = PredictResultSerializer(many=True)


class BatchCreateSerializer(serializers.Serializer):
    """A file upload (multipart) or a JSON list of SMILES, with optional IDs."""

    file = serializers.FileField(required=False, help_text="CSV, TSV, .smi/.txt or .sdf.")
    smiles = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_empty=False,
        help_text="Instead of a file: the SMILES, one per row.",
    )
    ids = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="Optional IDs, one per SMILES.",
    )
    smiles_column = serializers.CharField(required=False, default="", allow_blank=True)
    id_column = serializers.CharField(required=False, default="", allow_blank=True)

    def validate(self, data: dict) -> dict:
        if bool(data.get("file")) == bool(data.get("smiles")):
            raise serializers.ValidationError("Send either a file or a list of SMILES.")
        ids = data.get("ids")
        if ids is not None and len(ids) != len(data.get("smiles") or []):
            raise serializers.ValidationError({"ids": "Give one ID per SMILES."})
        return data


class PublicErrorField(serializers.CharField):
    """An error message as a visitor may read it: no server file paths (parsing.public_message)."""

    def to_representation(self, value) -> str:
        return public_message(super().to_representation(value))


class BatchSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    error = PublicErrorField(read_only=True, allow_blank=True, help_text="Why it failed.")
    url = serializers.SerializerMethodField(help_text="The batch's page on the site.")
    percent = serializers.IntegerField(read_only=True)
    rate = serializers.SerializerMethodField(help_text="Rows a second so far.")
    seconds_left = serializers.SerializerMethodField()
    rows_url = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()
    stage = serializers.ChoiceField(
        choices=Batch.Stage.choices,
        allow_blank=True,
        read_only=True,
        help_text="What the worker is doing: 'loading' the model, 'profiling' (every row "
        "predicted, RDKit profiles being computed; the batch is 'done' only after), or blank.",
    )

    class Meta:
        model = Batch
        fields = [
            "id",
            "url",
            "filename",
            "status",
            "stage",
            "error",
            "total_rows",
            "rows_processed",
            "done_count",
            "failed_count",
            "predicted_count",
            "profiled_rows",
            "percent",
            "rate",
            "seconds_left",
            "created_at",
            "started_at",
            "finished_at",
            "rows_url",
            "downloads",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "profiled_rows": {
                "help_text": "While stage is 'profiling': predicted rows whose RDKit profile is "
                "stored so far."
            },
        }

    def _progress(self, batch: Batch) -> dict:
        return batch_progress(batch=batch)

    def get_url(self, batch: Batch) -> str:
        return absolute(self.context.get("request"), batch.get_absolute_url())

    def get_rate(self, batch: Batch) -> float | None:
        return self._progress(batch)["rate"]

    def get_seconds_left(self, batch: Batch) -> int | None:
        return self._progress(batch)["seconds_left"]

    def get_rows_url(self, batch: Batch) -> str:
        return absolute(self.context.get("request"), f"/api/v1/batches/{batch.public_id}/rows")

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_downloads(self, batch: Batch) -> dict:
        base = f"/api/v1/batches/{batch.public_id}/"
        return links(self.context.get("request"), base, BATCH_DOWNLOADS)


class BatchRowSerializer(serializers.ModelSerializer):
    prediction_id = serializers.CharField(source="prediction_public_id", read_only=True)
    outputs = OutputsField(source="*")
    domain = DomainField()
    parent_note = serializers.SerializerMethodField(help_text=PARENT_NOTE_HELP)
    salt = serializers.SerializerMethodField(help_text=SALT_HELP)
    extra = serializers.DictField(help_text="The row's other columns (or SD fields).")
    percentiles = serializers.SerializerMethodField(
        help_text="Among approved drugs (as `approved_drugs.percentiles` of a prediction); "
        "null without a reference made for the batch's model."
    )

    class Meta:
        model = BatchRow
        fields = [
            "row_number",
            "input_id",
            "input_smiles",
            "extra",
            "status",
            "error",
            "canonical_smiles",
            "outputs",
            "domain",
            "parent_note",
            "salt",
            "percentiles",
            "prediction_id",
        ]
        read_only_fields = fields

    def get_parent_note(self, row: BatchRow) -> str:
        if row.status != "ok":
            return ""
        return salts.parent_note_for_input(row.input_smiles, outputs=row.outputs)

    @extend_schema_field(SaltEstimateSchema(allow_null=True))
    def get_salt(self, row: BatchRow) -> dict | None:
        if row.status != "ok":
            return None
        return salts.estimate_for_input(row.input_smiles, row.outputs)

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": {
                "type": "number",
                "nullable": True,
                "minimum": 0,
                "maximum": 100,
            },
            "description": PERCENTILES_HELP,
        }
    )
    def get_percentiles(self, row: BatchRow) -> dict | None:
        batch = self.context.get("batch")  # the rows' batch (BatchRowsView), read once
        found = batch and reference.json_context(batch.model_hash, row.outputs)
        return found["percentiles"] if found else None


class ModelInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    weights_sha256 = serializers.CharField()
    kind = serializers.CharField(help_text="regression, or a classification problem type.")
    max_tokens = serializers.IntegerField()
    outputs = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "label, unit and training range of each output; descriptor_weight (the descriptor "
            "model's share of the value, null if none), network_weight (the descriptor network's "
            "share within the descriptor model, the trees having the rest; null if none), "
            "graph_weight (the graph network's share within the descriptor model, mixed in "
            "after the descriptor network; null if none) and read_across ({weight, power} of the "
            "blend with the nearest measured molecules, null if none)."
        ),
    )
    test_metrics = serializers.DictField(help_text="Per output: RMSE, MAE, R² on the test set.")
    salts = serializers.DictField(
        help_text=(
            "How AqSolDB's salts measured against the parent's predicted logS (what a salt's "
            "`salt` field and note quote): `bins` (upper bounds of the parent's logS bins), and "
            "per kind (`alkali`, `metal`, `acid`, `organic`) `all` and per bin: n, "
            "salt_more_soluble, median, q1, q3 of (measured salt logS - predicted parent "
            "logS); `model`: the model they were measured with."
        )
    )


class ZipStateSerializer(serializers.Serializer):
    """results.zip, built by the worker: none, queued, building, ready or failed."""

    status = serializers.ChoiceField(choices=["none", "queued", "building", "ready", "failed"])
    rows = serializers.IntegerField(help_text="Rows packed so far.")
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    size = serializers.IntegerField(help_text="Bytes, once ready.")
    error = PublicErrorField(allow_blank=True)
    url = serializers.URLField(required=False, help_text="The download, once ready.")
