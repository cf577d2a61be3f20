from django.contrib import admin
from django.urls import include, path

from portal import views

admin.site.site_header = "Partner Portal"
admin.site.site_title = "Partner Portal"

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
    path("dev/", include("accounts.dev_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
