"""Load the shipped approved-drug examples as featured predictions (idempotent)."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand

from predictions.models import Prediction, Source
from predictions.services import PredictionRefused, prediction_get_or_create

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "example_drugs.csv"


class Command(BaseCommand):
    help = "Predict and store the shipped approved drugs as featured examples. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", type=Path, default=EXAMPLES, help="CSV with name,smiles columns."
        )

    def handle(self, *args, file: Path, **options):
        created = reused = 0
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                try:
                    result = prediction_get_or_create(
                        text=row["smiles"], source=Source.EXAMPLE, title=row["name"], featured=True
                    )
                except PredictionRefused as refusal:
                    self.stderr.write(f"Skipped {row['name']}: {refusal}")
                    continue
                if not result.created and not result.prediction.title:
                    # Stored earlier from the form: give it its name, leave curation alone.
                    Prediction.objects.filter(pk=result.prediction.pk).update(title=row["name"])
                created += result.created
                reused += not result.created
        self.stdout.write(
            self.style.SUCCESS(f"Examples: {created} created, {reused} already stored.")
        )
