from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from portal import bench, views

# The admin site speaks the user's language, like the portal (Django's default is "Django administration").
admin.site.site_header = _("Partner Portal administration")
admin.site.site_title = _("Partner Portal")
admin.site.index_title = _("Operations")

portal_patterns = (
    [
        path("", views.dashboard, name="dashboard"),
        path("healthz", views.healthz, name="healthz"),
        path("sync/", views.sync_status, name="sync-status"),
        path("sync/run/", views.sync_now, name="sync-now"),
    ],
    "portal",
)

urlpatterns = [
    path("", include(portal_patterns)),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("billing/", include("billing.urls")),
    path("", include("customers.public_urls")),  # the customer's own pages: /confirm/<token>/, /my/
    path("dev/", include("accounts.dev_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
if settings.BENCH:  # `make bench` only (bench/README.md): the ceiling the pages are measured against
    urlpatterns.append(path("_bench/trivial/", bench.trivial, name="bench-trivial"))
    urlpatterns.append(path("_bench/signed-in/", bench.trivial_signed_in, name="bench-signed-in"))
