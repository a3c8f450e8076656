"""Request-size limits from settings, as people read them: `{% size_limit "file" %}` → 20 MiB.

A tag rather than a context processor because the 400 page, which names both limits, is
rendered by Django's default handler without a request context.
"""

from django import template
from django.conf import settings

register = template.Library()

LIMITS = {"paste": "DATA_UPLOAD_MAX_MEMORY_SIZE", "file": "BATCH_MAX_UPLOAD_BYTES"}


def mib(size: int) -> str:
    """A byte count in MiB, the unit the default limits are set in (2 MiB, 20 MiB).

    Below 0.1 MiB, in KiB: a small limit should not read as "0 MiB".
    """
    value, unit = (size / 2**20, "MiB") if size >= 2**20 / 10 else (size / 2**10, "KiB")
    return f"{value:,.1f}".removesuffix(".0") + f" {unit}"


@register.simple_tag
def size_limit(name: str) -> str:
    return mib(getattr(settings, LIMITS[name]))
