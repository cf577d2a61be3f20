"""One-time codes (six digits) sent by email or SMS: staff step-up, a customer's confirmation and sign-in
codes, the new customer's contact codes and the invitation's code.

A code is kept only as a keyed hash (HMAC-SHA256 with SECRET_KEY) of its scope, the row that holds it and the
code itself, so a code of one kind or row never matches another, and compared in constant time. How long a
code lives and how many wrong tries it takes are the settings STEP_UP_CODE_TTL and STEP_UP_MAX_ATTEMPTS, which
each holder applies to its own row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

CODE_RE = re.compile(r"[0-9]{6}", re.ASCII)


def new_code() -> str:
    """A fresh random six-digit code."""
    return f"{secrets.randbelow(10**6):06d}"


def code_digest(scope: str, row_pk: int, code: str) -> str:
    """What is stored of `code`, sent for the row `row_pk` of the kind `scope`."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{scope}:{row_pk}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(stored: str, scope: str, row_pk: int, code: str) -> bool:
    """Whether `code` (as typed, stripped) is the one whose digest is `stored`; never for an empty one."""
    code = (code or "").strip()
    return bool(stored and CODE_RE.fullmatch(code)) and hmac.compare_digest(
        stored, code_digest(scope, row_pk, code)
    )
