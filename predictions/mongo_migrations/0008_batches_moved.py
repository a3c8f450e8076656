"""Batch, BatchRow and BatchChunk now belong to the `batches` app (its 0001): forgotten here,
their tables kept (database_operations is empty)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("predictions", "0007_batch_chunks"),
        ("batches", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="batchrow", name="batch"),
                migrations.RemoveField(model_name="batchchunk", name="batch"),
                migrations.RemoveField(model_name="batchrow", name="prediction"),
                migrations.DeleteModel(name="Batch"),
                migrations.DeleteModel(name="BatchChunk"),
                migrations.DeleteModel(name="BatchRow"),
            ],
            database_operations=[],
        ),
    ]
