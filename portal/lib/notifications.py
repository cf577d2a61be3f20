"""One helper to send every email and SMS the portal sends.

Each message has a subject, a text body and (for email) an HTML body, rendered from templates named
`<template>_subject.txt`, `<template>.txt` and `<template>.html`. After sending, the `message_sent` signal
fires so that the message log (accounts.Message) records it; this module imports no app.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import translation

from portal.lib.sms import get_sms_backend

# Sent with: channel ("email"/"sms"), recipient, subject, body, context (the template context), tag.
message_sent = Signal()


def _render(template: str, context: dict, suffix: str) -> str:
    return render_to_string(f"{template}{suffix}", context).strip()


def send_email(to: str, template: str, context: dict, *, tag: str = "", language: str | None = None) -> None:
    """Render and send one email, then announce it on message_sent."""
    with translation.override(language or translation.get_language() or settings.LANGUAGE_CODE):
        subject = " ".join(_render(template, context, "_subject.txt").split())
        text = _render(template, context, ".txt")
        html = _render(template, context, ".html")
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()
    message_sent.send(
        sender=send_email, channel="email", recipient=to, subject=subject, body=text, context=context, tag=tag
    )


def send_sms(to: str, template: str, context: dict, *, tag: str = "", language: str | None = None) -> None:
    """Render `<template>.txt` and send it as a text message, then announce it on message_sent."""
    with translation.override(language or translation.get_language() or settings.LANGUAGE_CODE):
        text = _render(template, context, ".txt")
    get_sms_backend().send(to, text)
    message_sent.send(
        sender=send_sms, channel="sms", recipient=to, subject="", body=text, context=context, tag=tag
    )
