"""Hostile input on every parameter of every view: nothing answers 5xx.

The walk finds the parameters itself: it opens each staff URL (with objects the user may see as its
arguments), reads every form on the page (GET filters and POST actions alike) and sends each field each
hostile value in turn, plus the list parameters every page takes (page, per_page, sort, tab). A new page or a
new field is fuzzed without touching this file.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from accounts.tests.urlwalk import FOREIGN_ARGUMENTS, staff_patterns
from upstream.client import UpstreamClient

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HOSTILE = [
    "\x00",
    "x" * 10_000,
    "١٢٣",  # Arabic-Indic digits: isdigit() is true and int() takes them; the database may not
    "-1",
    "0",
    "0.001",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "not-a-choice",
    "2026-13-45",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "abc",
    "//evil.example.com/",
    " ",
]
# Parameters every list takes, whether or not its form shows them.
LIST_PARAMETERS = ["page", "per_page", "sort", "tab", "q"]
# Views that end the session, or whose 503 is their meaning (the health check without a worker).
SKIP_VIEWS = {"accounts:logout", "portal:healthz"}


@pytest.fixture(autouse=True)
def _no_upstream_waits(monkeypatch, settings):
    """A few views ask the upstream while they answer (an order's items, the price inquiry's catalogue).
    Here no upstream listens: they show their "could not be asked" state, which is input handling enough
    for this walk. Their clients retry without sleeping, or the thousands of requests would wait minutes
    on backoff."""
    settings.UPSTREAM_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
    from_settings = UpstreamClient.from_settings.__func__

    def without_sleep(cls, **overrides):
        return from_settings(cls, **{"sleep": lambda _seconds: None, **overrides})

    monkeypatch.setattr(UpstreamClient, "from_settings", classmethod(without_sleep))


class FormParser(HTMLParser):
    """The forms of a page: method, action and field names with their first value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = "post" if attrs.get("hx-post") else (attrs.get("method") or "get").lower()
            self._form = {
                "method": method,
                "action": attrs.get("hx-post") or attrs.get("action") or attrs.get("hx-get") or "",
                "fields": {},
            }
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and attrs.get("name"):
            name = attrs["name"]
            if tag == "input" and attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                self._form["fields"].setdefault(name, None)
            else:
                self._form["fields"].setdefault(name, attrs.get("value") or "")
            if tag == "select":
                self._select = name
        elif (
            tag == "option"
            and self._select
            and self._form is not None
            and self._form["fields"].get(self._select) in ("", None)
        ):
            self._form["fields"][self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _url(name: str, pattern, partners) -> str | None:
    arguments = {}
    for argument in pattern.pattern.converters:
        if argument not in FOREIGN_ARGUMENTS:
            return None
        arguments[argument] = FOREIGN_ARGUMENTS[argument](partners)
    return reverse(name, kwargs=arguments)


def _forms(client, url: str) -> list[dict] | None:
    """The page's forms, or None when the URL is not a page (POST only, a download, a redirect)."""
    response = client.get(url)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return None
    parser = FormParser()
    parser.feed(response.content.decode("utf-8", "replace"))
    return parser.forms


def _send(client, method: str, url: str, data: dict, failures: list, field: str = "") -> None:
    clean = {k: v for k, v in data.items() if v is not None and k != "csrfmiddlewaretoken"}
    try:
        response = getattr(client, method)(url, clean)
    except Exception as exc:  # the test client re-raises a view's exception: that is a 500
        outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
    else:
        if response.status_code < 500:
            return
        outcome = response.status_code
    failures.append((method.upper(), url, field, _short({field: clean.get(field)}), outcome))


def _report(failures: list) -> str:
    """One line per (method, URL, field) that failed, with its first failing value."""
    seen: dict = {}
    for method, url, field, value, outcome in failures:
        seen.setdefault((method, url, field), (value, outcome))
    return "\n".join(f"{m} {u} {f}: {v} → {o}" for (m, u, f), (v, o) in seen.items())


def _short(data: dict) -> dict:
    return {k: (v[:20] + "…" if isinstance(v, str) and len(v) > 20 else v) for k, v in data.items()}


def _fuzz(client, user, url: str, failures: list) -> None:
    client.force_login(user, backend="accounts.backends.PortalBackend")
    forms = _forms(client, url)
    if forms is None:
        # Not a page: its parameters are the POST fields of the page that links to it, or its query.
        forms = [{"method": "get", "action": url, "fields": dict.fromkeys(LIST_PARAMETERS, "")}]
    else:
        for name in LIST_PARAMETERS:
            for value in HOSTILE:
                _send(client, "get", url, {name: value}, failures, name)
    for form in forms:
        target = urlsplit(form["action"]).path or url
        if target.startswith(("/accounts/logout", "/i18n/")):
            continue
        for name in form["fields"]:
            if name == "csrfmiddlewaretoken":
                continue
            for value in HOSTILE:
                _send(client, form["method"], target, {**form["fields"], name: value}, failures, name)
                # Sessions may end (a wrong old password counts towards the lockout): sign in again.
                client.force_login(user, backend="accounts.backends.PortalBackend")


@pytest.mark.parametrize("persona", ["dist_admin", "ra_sales"])
def test_no_parameter_of_any_staff_view_answers_5xx(request, persona, partners, client, settings):
    settings.PORTAL_DEMO = True
    user = request.getfixturevalue(persona)
    failures: list = []
    walked = 0
    for name, pattern in staff_patterns():
        if name in SKIP_VIEWS:
            continue
        url = _url(name, pattern, partners)
        if url is None:
            continue
        walked += 1
        _fuzz(client, user, url, failures)
    assert walked >= 15
    assert not failures, _report(failures)


def test_hostile_sign_in_and_language_input_never_answers_5xx(client, partners):
    failures: list = []
    login = reverse("accounts:login")
    for value in [*HOSTILE, "u" * 300]:
        _send(client, "post", login, {"username": value, "password": value}, failures, "username")
        _send(client, "post", login, {"username": "ra-admin", "password": value}, failures, "password")
        _send(client, "get", login, {"next": value}, failures, "next")
        _send(client, "post", "/i18n/setlang/", {"language": value, "next": value}, failures, "language")
    assert not failures, _report(failures)
