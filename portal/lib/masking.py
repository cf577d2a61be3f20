"""Masking of customers' personal data for lists and exports: 张**, 138****5678, a***@example.com."""

from __future__ import annotations

import re


def mask_name(value: str | None) -> str:
    """Keep the first character: 张伟 → 张*, 北京某某科技 → 北*****; Latin names likewise."""
    if not value:
        return ""
    value = value.strip()
    if len(value) == 1:
        return "*"
    return value[0] + "*" * min(len(value) - 1, 8)


def mask_phone(value: str | None) -> str:
    """Keep the first 3 and last 4 digits: 13812345678 → 138****5678; short numbers keep the last 2."""
    if not value:
        return ""
    value = value.strip()
    if len(value) >= 8:
        return value[:3] + "****" + value[-4:]
    if len(value) > 2:
        return "*" * (len(value) - 2) + value[-2:]
    return "*" * len(value)


def mask_email(value: str | None) -> str:
    """Keep the first character of the local part and the domain: alice@example.com → a***@example.com."""
    if not value:
        return ""
    value = value.strip()
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_name(value)
    return (local[:1] or "*") + "***@" + domain


def mask_account_name(value: str | None) -> str:
    """Keep the first 2 and the last character: hwc-abc123 → hw*******3."""
    if not value:
        return ""
    value = value.strip()
    if len(value) <= 3:
        return value[:1] + "*" * (len(value) - 1)
    return value[:2] + "*" * (len(value) - 3) + value[-1]


MASKERS = {
    "name": mask_name,
    "account_name": mask_account_name,
    "phone": mask_phone,
    "email": mask_email,
}


def mask(kind: str, value: str | None) -> str:
    """Mask value as the given kind of personal data (name, account_name, phone, email)."""
    return MASKERS[kind](value)


def redact(text: str | None, values: dict[str, str | None]) -> str:
    """Text with each personal value in it (kind → value, e.g. a customer's name) replaced by its mask.

    Upstream warning titles and contents quote the customer by name; lists must not show it in full.
    """
    text = text or ""
    for kind, value in sorted(values.items(), key=lambda kv: -len(kv[1] or "")):
        if value and len(value) >= 2 and value in text:
            text = text.replace(value, mask(kind, value))
    return text


# Contacts found by their shape, for text about a customer the portal does not know yet (no values to redact).
# A phone: 7-15 digits (spaces or hyphens inside, an optional leading +), not part of a longer word, a
# decimal amount or an id such as "cust-00012345a". ASCII classes on purpose: in Python \w matches Chinese,
# and upstream texts write "客户13812345678已欠费" without spaces.
_PHONE = re.compile(r"(?<![A-Za-z0-9.+\-])\+?\d(?:[ -]?\d){6,14}(?![A-Za-z0-9]|\.\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def mask_contacts(text: str | None) -> str:
    """Text with every email address and phone-like number in it masked (a***@example.com, 138****5678)."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text or "")
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m.group(0))), text)
