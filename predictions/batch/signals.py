"""Files that belong to a batch go with it: its waiting upload and its ZIP (and build state).

A receiver, not `Batch.delete()`, so that the admin's bulk delete removes them too.
"""

from __future__ import annotations

from pathlib import Path

from django.db.models.signals import post_delete
from django.dispatch import receiver

from predictions.models import Batch

from . import archive


@receiver(post_delete, sender=Batch, dispatch_uid="batch_files_removed")
def remove_batch_files(sender, instance: Batch, **kwargs) -> None:
    if instance.input_path:
        Path(instance.input_path).unlink(missing_ok=True)
    archive.zip_delete(public_id=instance.public_id)
