"""A typed request for views: the signed-in staff user and django-htmx's details."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class StaffRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
