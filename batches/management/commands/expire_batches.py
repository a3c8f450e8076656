"""Delete expired batches, ZIPs, partial files and stray uploads (batches/worker/expiry.py).

The worker runs the same hourly (batches/tasks.py); this command is for cron-less setups,
a first clean-up, or to see what would go (--dry-run).
"""

from django.core.management.base import BaseCommand

from batches.worker import expiry


class Command(BaseCommand):
    help = "Delete finished batches, results.zip files and temporary files past their expiry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what has expired; delete nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        counts = expiry.expire(dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        summary = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items())
        self.stdout.write(f"{verb}: {summary}.")
