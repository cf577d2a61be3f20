"""The portal app, and the app configs that name third-party apps in the admin site in the user's language.

Axes and django-otp ship no Chinese catalogue (and TOTPDevice's name is not even translatable), so the
admin index showed "Axes", "OTP_TOTP", "access attempts"... in the Chinese UI. Their app configs are
subclassed here (settings.INSTALLED_APPS names these) and their models' names are set from our catalogue.
"""

from __future__ import annotations

import axes.apps
import django_otp.plugins.otp_totp.apps
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Third-party models as the admin index names them: (app label, model name) → (singular, plural).
THIRD_PARTY_MODEL_NAMES = {
    ("axes", "accessattempt"): (_("failed sign-in attempt"), _("failed sign-in attempts")),
    ("axes", "accesslog"): (_("sign-in record"), _("sign-in records")),
    ("axes", "accessfailurelog"): (_("failed sign-in record"), _("failed sign-in records")),
    ("axes", "accessattemptexpiration"): (_("lockout expiry"), _("lockout expiries")),
    ("otp_totp", "totpdevice"): (_("authenticator app"), _("authenticator apps")),
}


class PortalConfig(AppConfig):
    default = True  # the other configs below belong to other apps
    name = "portal"
    verbose_name = _("Portal")

    def ready(self) -> None:
        from django.apps import apps

        from portal import checks  # noqa: F401  (registers the deploy checks)

        for (app_label, model_name), (singular, plural) in THIRD_PARTY_MODEL_NAMES.items():
            try:
                opts = apps.get_model(app_label, model_name)._meta
            except LookupError:  # a model this version of the package does not have
                continue
            opts.verbose_name = singular
            opts.verbose_name_plural = plural


class AxesConfig(axes.apps.AppConfig):
    default = False
    verbose_name = _("Sign-in lockout (Axes)")


class TOTPConfig(django_otp.plugins.otp_totp.apps.DefaultConfig):
    default = False
    verbose_name = _("Two-factor authentication (TOTP)")
