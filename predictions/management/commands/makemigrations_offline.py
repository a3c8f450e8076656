"""`makemigrations` without a database connection.

Django checks migration history against the live database before writing migrations. The
MongoDB migration tree must be generated and checked (`--check`) on machines with no MongoDB
server, so this skips that one check and is otherwise Django's own command.
"""

from unittest import mock

from django.core.management.commands.makemigrations import Command as MakeMigrations
from django.db.migrations.loader import MigrationLoader


class Command(MakeMigrations):
    help = "makemigrations that does not connect to the database (for the MongoDB tree)."

    def handle(self, *args, **options):
        with mock.patch.object(MigrationLoader, "check_consistent_history", lambda *a: None):
            return super().handle(*args, **options)
