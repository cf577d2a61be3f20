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


@checks.register(checks.Tags.security, deploy=True)
def documents_store_in_production(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Real-name documents (personal data) travel and rest encrypted in an S3-compatible store."""
    options = settings.STORAGES.get("documents", {}).get("OPTIONS", {})
    if not options.get("bucket_name"):
        return []  # the local file system
    found = []
    if (options.get("endpoint_url") or "https://").startswith("http://"):
        found.append(
            checks.Warning(
                "STORAGE_ENDPOINT_URL is plain http: real-name documents cross the network unencrypted.",
                hint="Use the store's https endpoint.",
                id="portal.W002",
            )
        )
    if "ServerSideEncryption" not in options.get("object_parameters", {}):
        found.append(
            checks.Warning(
                "STORAGE_ENCRYPTION=off: real-name documents are stored without server-side encryption.",
                hint="Leave STORAGE_ENCRYPTION at AES256 unless the store refuses it.",
                id="portal.W003",
            )
        )
    return found
