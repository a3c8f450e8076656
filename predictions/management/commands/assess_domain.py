"""Give stored predictions their applicability-domain verdict (those made before it existed)."""

from django.core.management.base import BaseCommand

from predictions.services import domain_backfill


class Command(BaseCommand):
    help = (
        "Judge the applicability domain of stored predictions of the served model that have "
        "no verdict yet, from their stored values (no inference). Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--redo", action="store_true", help="Judge every prediction again.")

    def handle(self, *args, redo: bool = False, **options):
        judged, skipped = domain_backfill(redo=redo)
        self.stdout.write(
            f"{judged} prediction(s) judged; {skipped} made by another model left as they are."
        )
