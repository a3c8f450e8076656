"""Curators see batches read-only; they are created and run from the site."""

from django.contrib import admin

from batches.models import Batch


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """Read-only view of batch uploads; they are created and run from the site."""

    list_display = (
        "filename",
        "owner_key",
        "status",
        "total_rows",
        "done_count",
        "failed_count",
        "created_at",
    )
    list_filter = ("status", "file_format")
    search_fields = ("filename", "owner_key", "public_id")
    readonly_fields = [f.name for f in Batch._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
