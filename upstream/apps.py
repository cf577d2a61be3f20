from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UpstreamConfig(AppConfig):
    name = "upstream"
    verbose_name = _("Upstream")

    def ready(self):
        from upstream import startup  # noqa: F401  (the initial sync when a worker starts)
