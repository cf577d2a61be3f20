"""Pluggable SMS backends, chosen by settings.SMS_BACKEND (a dotted path), like Django's email backends."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class BaseSmsBackend:
    """Sends one text message; raise on failure."""

    def send(self, to: str, body: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes the message to standard output (development)."""

    def send(self, to: str, body: str) -> None:
        sys.stdout.write(f"SMS to {to}: {body}\n")
        sys.stdout.flush()


class DummySmsBackend(BaseSmsBackend):
    """Sends nothing: the message log is the only trace (demo mode shows it at /dev/outbox/)."""

    def send(self, to: str, body: str) -> None:
        logger.debug("SMS to %s dropped by the dummy backend", to)


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in memory for tests, in LocmemSmsBackend.outbox."""

    outbox: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> None:
        LocmemSmsBackend.outbox.append((to, body))


def get_sms_backend() -> BaseSmsBackend:
    """An instance of the configured SMS backend."""
    return import_string(settings.SMS_BACKEND)()
