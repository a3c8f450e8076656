"""Batches: an uploaded file or pasted list, its rows and the chunks workers lease.

The tables keep the names they had when these models lived in `predictions` (db_table), so a
database made before the split migrates without copying (migrations/0001_initial.py).
"""

from django.db import models
from django.urls import reverse

from predictions.models import PUBLIC_ID_LENGTH, Prediction, new_public_id


class BatchQuerySet(models.QuerySet):
    def active(self) -> "BatchQuerySet":
        """Batches a worker may still run: queued, or running (perhaps by a dead worker)."""
        return self.filter(status__in=Batch.ACTIVE)

    def owned_by(self, owners: list[str]) -> "BatchQuerySet":
        """Batches whose `owner_key` is one of the visitor's (none: an empty queryset)."""
        return self.filter(owner_key__in=[key for key in owners if key])

    def unleased(self, now) -> "BatchQuerySet":
        """Batches no live worker holds: never leased, or the lease ran out."""
        return self.filter(models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))


class Batch(models.Model):
    """One uploaded file (or pasted list) of molecules, predicted in the background.

    The upload itself waits on disk (`input_path`, under settings.BATCH_UPLOAD_DIR) and is
    parsed by the worker; results are stored per row as BatchRow records, chunk by chunk.
    Its rows are worked in chunks (BatchChunk), each leased on its own, so several workers
    can run one batch together; `rows_processed` counts the rows of the chunks stored.
    `owner_key` says whose it is ("session:<hash>", "user:<id>", later "token:<id>"; see
    batches/owners.py); only its owner (and curators, in the admin) can see it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        LOADING = "loading", "Loading the model"
        PROFILING = "profiling", "Computing RDKit profiles"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.DONE, Status.CANCELLED, Status.FAILED)

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    owner_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    filename = models.CharField(max_length=255)
    input_path = models.CharField(max_length=500, editable=False)
    file_format = models.CharField(max_length=10)
    # Column layout of the input: the SMILES and ID columns and every column passed through.
    smiles_column = models.CharField(max_length=200, blank=True)
    id_column = models.CharField(max_length=200, blank=True)
    columns = models.JSONField(default=list)
    has_header = models.BooleanField(default=True)
    # [{"label": ..., "unit": ...}] of the model at upload time: export headers.
    output_specs = models.JSONField(default=list)
    model_hash = models.CharField(max_length=64, blank=True)

    total_rows = models.PositiveIntegerField(default=0)
    rows_processed = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    predicted_count = models.PositiveIntegerField(default=0, help_text="New molecules predicted.")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # What the page says while it waits: "loading" while a worker loads the model for it.
    stage = models.CharField(max_length=10, blank=True, choices=Stage.choices, editable=False)
    # Rows handled so far, for the page only: moves after every forward pass inside a chunk,
    # where `rows_processed` (rows of the chunks stored) moves only when a chunk is stored.
    progress_rows = models.PositiveIntegerField(default=0, editable=False)
    # Predicted rows whose RDKit profile is stored, for the page while the profiles are computed
    # after the predictions (stage "profiling").
    profiled_rows = models.PositiveIntegerField(default=0, editable=False)
    error = models.TextField(blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        db_table = "predictions_batch"
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.filename} ({self.total_rows} rows)"

    def get_absolute_url(self) -> str:
        return reverse("batches:detail", args=[self.public_id])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        return int(100 * self.rows_processed / self.total_rows) if self.total_rows else 100

    @property
    def rows_shown(self) -> int:
        """Rows to show as done: stored, or predicted in the chunk under way."""
        return min(max(self.rows_processed, self.progress_rows), self.total_rows)

    @property
    def percent_shown(self) -> int:
        return int(100 * self.rows_shown / self.total_rows) if self.total_rows else 100


class BatchRow(models.Model):
    """One input row and its outcome, denormalised so result pages and exports need no join."""

    class Status(models.TextChoices):
        OK = "ok", "Predicted"
        ERROR = "error", "Error"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField(help_text="1-based data row (header excluded).")
    input_id = models.CharField(max_length=500, blank=True)
    input_smiles = models.TextField(blank=True)
    extra = models.JSONField(default=dict, help_text="Passed-through columns / SD fields.")
    status = models.CharField(max_length=5, choices=Status.choices)
    error = models.TextField(blank=True)
    prediction = models.ForeignKey(
        Prediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The prediction's link id, kept here so result pages and exports need no join.
    prediction_public_id = models.CharField(max_length=PUBLIC_ID_LENGTH, blank=True)
    canonical_smiles = models.CharField(max_length=1000, blank=True)
    outputs = models.JSONField(default=list)
    domain = models.JSONField(default=dict, blank=True, help_text="Copied from the prediction.")
    verdict = models.CharField(max_length=5, blank=True)
    profile = models.JSONField(default=dict, blank=True, help_text="Copied from the prediction.")
    profile_pending = models.BooleanField(default=False, db_index=True, editable=False)
    # Copied from the prediction: a batch's results are searched without a join.
    morgan_fp = models.BinaryField(null=True, blank=True, editable=False)
    morgan_bits = models.PositiveSmallIntegerField(null=True, blank=True)
    pattern_fp = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "predictions_batchrow"
        ordering = ["batch_id", "row_number"]  # by id: no join to Batch
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="unique_batch_row")
        ]
        indexes = [
            models.Index(fields=["batch", "status", "row_number"], name="batchrow_status"),
            models.Index(fields=["batch", "verdict", "row_number"], name="batchrow_verdict"),
            models.Index(fields=["batch", "morgan_bits", "morgan_fp"], name="batchrow_bits"),
            models.Index(
                fields=["batch", "profile_pending", "row_number"], name="batchrow_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.input_id or self.input_smiles}"


class BatchChunk(models.Model):
    """One unit of a batch's work, leased on its own, so that any worker may take it: a range of
    rows (`first_row`..`last_row`), or, last, the batch's RDKit profile pass (kind "profiles",
    which may be taken only once every row chunk is done).

    Created when a batch starts (batches/services.py); claimed, renewed and marked
    done by single-document conditional updates (no transaction: MongoDB). A chunk's counts are
    stored with it when it is done; the batch's are their sums, so a worker killed between the
    two updates leaves nothing that the next chunk's tally does not put right.
    """

    class Kind(models.TextChoices):
        ROWS = "rows", "Rows"
        PROFILES = "profiles", "RDKit profiles"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ROWS)
    first_row = models.PositiveIntegerField(default=0)
    last_row = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Rows predicted so far inside the chunk (for the page); all of them once done.
    rows_done = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    predicted_count = models.PositiveIntegerField(default=0)
    # Who stored it (a lease id, `host:pid:token/run`): which workers did what.
    done_by = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "predictions_batchchunk"
        ordering = ["batch_id", "index"]  # by id: no join to Batch
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="unique_batch_chunk")
        ]
        indexes = [models.Index(fields=["batch", "status", "index"], name="batchchunk_open")]

    def __str__(self) -> str:
        if self.kind == self.Kind.PROFILES:
            return f"chunk {self.index}: profiles"
        return f"chunk {self.index}: rows {self.first_row}-{self.last_row}"

    @property
    def rows(self) -> int:
        return self.last_row - self.first_row + 1 if self.kind == self.Kind.ROWS else 0
