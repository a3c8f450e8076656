"""What batches do when something they hang on changes.

- A batch's files go with it: its waiting upload and its ZIP (and build state). A receiver,
  not `Batch.delete()`, so that the admin's bulk delete removes them too.
- Batch rows copy their prediction's verdict and RDKit profile (no join on their pages): when
  the catalogue stores new ones (predictions.signals), the copies follow.
"""

from __future__ import annotations

from pathlib import Path

from django.db.models.signals import post_delete
from django.dispatch import receiver

from batches.files import archive
from batches.models import Batch, BatchRow
from predictions.services import one_commit
from predictions.signals import profiles_stored, verdict_stored


@receiver(post_delete, sender=Batch, dispatch_uid="batch_files_removed")
def remove_batch_files(sender, instance: Batch, **kwargs) -> None:
    if instance.input_path:
        Path(instance.input_path).unlink(missing_ok=True)
    archive.zip_delete(public_id=instance.public_id)


@receiver(profiles_stored, dispatch_uid="batch_rows_profiles")
def copy_profiles(sender, profiles: dict, **kwargs) -> None:
    """Every batch row still pending that copied these predictions gets their profile (one
    look-up, one bulk update of the pending ones)."""
    pending = BatchRow.objects.filter(profile_pending=True)
    found = pending.filter(prediction_id__in=list(profiles)).values_list("pk", "prediction_id")
    rows = [
        BatchRow(pk=pk, profile=profiles[prediction], profile_pending=False)
        for pk, prediction in found
    ]
    with one_commit():
        pending.bulk_update(rows, ["profile", "profile_pending"])


@receiver(verdict_stored, dispatch_uid="batch_rows_verdict")
def copy_verdict(sender, pk, fields: dict, **kwargs) -> None:
    BatchRow.objects.filter(prediction_id=pk).update(**fields)
