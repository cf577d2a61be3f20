"""System checks of the portal's own settings (`manage.py check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def demo_mode_in_production(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """PORTAL_DEMO shows every user's verification codes at /dev/outbox/: never on a production server."""
    if settings.PORTAL_DEMO and not settings.DEBUG:
        return [
            checks.Warning(
                "PORTAL_DEMO=1 with DEBUG=0: the demo message outbox (/dev/outbox/) shows the verification "
                "codes and emails the portal sends.",
                hint="Set PORTAL_DEMO=0 on a production server.",
                id="portal.W001",
            )
        ]
    return []
