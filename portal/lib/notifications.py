"""One helper to send every email and SMS the portal sends.

Each message has a subject, a text body and (for email) an HTML body, rendered from templates named
`<template>_subject.txt`, `<template>.txt` and `<template>.html`. After sending, the `message_sent` signal
fires so that the message log (accounts.Message) records it; this module imports no app.

A message is written in its RECIPIENT's language, never in the language of whoever triggered it: the
context's `user` is the recipient, and its `language` preference is used (the site default otherwise).
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


def recipient_language(context: dict, language: str | None = None) -> str:
    """The language to write in: the explicit one, else the recipient's (context["user"]), else the site's."""
    wanted = language or getattr(context.get("user"), "language", None) or settings.LANGUAGE_CODE
    return wanted if wanted in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def send_email(to: str, template: str, context: dict, *, tag: str = "", language: str | None = None) -> None:
    """Render and send one email in the recipient's language, then announce it on message_sent."""
    with translation.override(recipient_language(context, language)):
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
    """Render `<template>.txt` in the recipient's language and send it as a text message, then announce it."""
    with translation.override(recipient_language(context, language)):
        text = _render(template, context, ".txt")
    get_sms_backend().send(to, text)
    message_sent.send(
        sender=send_sms, channel="sms", recipient=to, subject="", body=text, context=context, tag=tag
    )
