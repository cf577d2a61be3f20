from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from customers import outbox, sync  # noqa: F401  (registers the datasets and the outbox handlers)
