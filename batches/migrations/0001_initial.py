"""Batch, BatchRow and BatchChunk move here from `predictions`, keeping their tables.

Nothing is copied: the tables made by predictions' migrations 0002-0007 stay as they are
(the models name them with db_table); only Django's record of which app owns them moves.
The content types move too, so curators' permissions on batches stay with them.
"""

import django.db.models.deletion
import predictions.models
from django.db import migrations, models



MOVED = ("batch", "batchrow", "batchchunk")


def _move_content_types(apps, schema_editor, source: str, target: str) -> None:
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    for model in MOVED:
        if not content_types.filter(app_label=target, model=model).exists():
            content_types.filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor) -> None:
    _move_content_types(apps, schema_editor, "predictions", "batches")


def backwards(apps, schema_editor) -> None:
    _move_content_types(apps, schema_editor, "batches", "predictions")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "__first__"),
        ("predictions", "0007_batch_chunks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Batch',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('public_id', models.CharField(default=predictions.models.new_public_id, editable=False, max_length=24, unique=True)),
                        ('owner_key', models.CharField(blank=True, db_index=True, editable=False, max_length=100)),
                        ('filename', models.CharField(max_length=255)),
                        ('input_path', models.CharField(editable=False, max_length=500)),
                        ('file_format', models.CharField(max_length=10)),
                        ('smiles_column', models.CharField(blank=True, max_length=200)),
                        ('id_column', models.CharField(blank=True, max_length=200)),
                        ('columns', models.JSONField(default=list)),
                        ('has_header', models.BooleanField(default=True)),
                        ('output_specs', models.JSONField(default=list)),
                        ('model_hash', models.CharField(blank=True, max_length=64)),
                        ('total_rows', models.PositiveIntegerField(default=0)),
                        ('rows_processed', models.PositiveIntegerField(default=0)),
                        ('done_count', models.PositiveIntegerField(default=0)),
                        ('failed_count', models.PositiveIntegerField(default=0)),
                        ('predicted_count', models.PositiveIntegerField(default=0, help_text='New molecules predicted.')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Finished'), ('cancelled', 'Cancelled'), ('failed', 'Failed')], default='queued', max_length=10)),
                        ('stage', models.CharField(blank=True, choices=[('loading', 'Loading the model'), ('profiling', 'Computing RDKit profiles')], editable=False, max_length=10)),
                        ('progress_rows', models.PositiveIntegerField(default=0, editable=False)),
                        ('profiled_rows', models.PositiveIntegerField(default=0, editable=False)),
                        ('error', models.TextField(blank=True)),
                        ('lease_owner', models.CharField(blank=True, editable=False, max_length=64)),
                        ('lease_until', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'verbose_name_plural': 'batches',
                        'db_table': 'predictions_batch',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='BatchChunk',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('index', models.PositiveIntegerField()),
                        ('kind', models.CharField(choices=[('rows', 'Rows'), ('profiles', 'RDKit profiles')], default='rows', max_length=10)),
                        ('first_row', models.PositiveIntegerField(default=0)),
                        ('last_row', models.PositiveIntegerField(default=0)),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done')], default='pending', max_length=10)),
                        ('lease_owner', models.CharField(blank=True, max_length=64)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                        ('rows_done', models.PositiveIntegerField(default=0)),
                        ('done_count', models.PositiveIntegerField(default=0)),
                        ('failed_count', models.PositiveIntegerField(default=0)),
                        ('predicted_count', models.PositiveIntegerField(default=0)),
                        ('done_by', models.CharField(blank=True, max_length=64)),
                        ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='batches.batch')),
                    ],
                    options={
                        'db_table': 'predictions_batchchunk',
                        'ordering': ['batch_id', 'index'],
                        'indexes': [models.Index(fields=['batch', 'status', 'index'], name='batchchunk_open')],
                        'constraints': [models.UniqueConstraint(fields=('batch', 'index'), name='unique_batch_chunk')],
                    },
                ),
                migrations.CreateModel(
                    name='BatchRow',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('row_number', models.PositiveIntegerField(help_text='1-based data row (header excluded).')),
                        ('input_id', models.CharField(blank=True, max_length=500)),
                        ('input_smiles', models.TextField(blank=True)),
                        ('extra', models.JSONField(default=dict, help_text='Passed-through columns / SD fields.')),
                        ('status', models.CharField(choices=[('ok', 'Predicted'), ('error', 'Error')], max_length=5)),
                        ('error', models.TextField(blank=True)),
                        ('prediction_public_id', models.CharField(blank=True, max_length=24)),
                        ('canonical_smiles', models.CharField(blank=True, max_length=1000)),
                        ('outputs', models.JSONField(default=list)),
                        ('domain', models.JSONField(blank=True, default=dict, help_text='Copied from the prediction.')),
                        ('verdict', models.CharField(blank=True, max_length=5)),
                        ('profile', models.JSONField(blank=True, default=dict, help_text='Copied from the prediction.')),
                        ('profile_pending', models.BooleanField(db_index=True, default=False, editable=False)),
                        ('morgan_fp', models.BinaryField(blank=True, null=True)),
                        ('morgan_bits', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('pattern_fp', models.BinaryField(blank=True, null=True)),
                        ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rows', to='batches.batch')),
                        ('prediction', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='predictions.prediction')),
                    ],
                    options={
                        'db_table': 'predictions_batchrow',
                        'ordering': ['batch_id', 'row_number'],
                        'indexes': [models.Index(fields=['batch', 'status', 'row_number'], name='batchrow_status'), models.Index(fields=['batch', 'verdict', 'row_number'], name='batchrow_verdict'), models.Index(fields=['batch', 'morgan_bits', 'morgan_fp'], name='batchrow_bits'), models.Index(fields=['batch', 'profile_pending', 'row_number'], name='batchrow_pending')],
                        'constraints': [models.UniqueConstraint(fields=('batch', 'row_number'), name='unique_batch_row')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
