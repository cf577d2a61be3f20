"""Money: amounts are Decimal with 2 places (CNY yuan, fen), never float. The one parser of the portal.

Every amount that enters the portal (a form, the upstream's JSON, an outbox payload) goes through
`parse_money` (exact: more than 2 places is refused) or `to_money` (rounded half up, for values the portal
does not choose, such as the upstream's balances); every amount sent upstream through `money_str`.
Bad input raises `MoneyError` (a ValueError) with a `code` saying why; a float raises TypeError, because
a float has already lost the fen.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Text amounts are plain decimal notation in ASCII digits: Decimal() alone would also take "1_000", "1e3"
# and other scripts' digits ("١٢"), none of which a person means as an amount.
PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


class MoneyError(ValueError):
    """A value that is not an amount of money; `code` is "invalid" or "too_precise"."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.code = code


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a Decimal, an int or a plain decimal string ("-12.5", spaces around allowed);
    None for None and "".

    Floats and booleans raise TypeError; anything else that is not a finite number raises MoneyError.
    """
    if value is None or value == "":
        return None
    if isinstance(value, float | bool):
        raise TypeError("Money is never a float (or a bool): pass a Decimal, an int or a string.")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not PLAIN_DECIMAL.fullmatch(text):
            raise MoneyError(f"{value!r} is not a number.")
        number = Decimal(text)
    else:
        raise MoneyError(f"{value!r} is not a number.")
    if not number.is_finite():
        raise MoneyError(f"{value!r} is not a finite number.")
    return number


def _cents(amount: Decimal, value: object) -> Decimal:
    try:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than Decimal's precision: no amount the portal deals in
        raise MoneyError(f"{value!r} is too large an amount.") from None


def parse_money(value: object) -> Decimal:
    """An exact amount with 2 places: "12.5" → Decimal("12.50"); "12.345", "", "abc", "NaN" are refused."""
    amount = parse_decimal(value)
    if amount is None:
        raise MoneyError("An amount is required.")
    cents = _cents(amount, value)
    if amount != cents:
        raise MoneyError(f"{value!r} has more than 2 decimal places.", code="too_precise")
    return cents


def to_money(value: object, default: Decimal | None = None) -> Decimal:
    """An amount rounded half up to 2 places: "0.105" → Decimal("0.11"); None/"" give `default` if set."""
    amount = parse_decimal(value)
    if amount is None:
        if default is None:
            raise MoneyError("An amount is required.")
        amount = default
    return _cents(amount, value)


def money_str(value: object) -> str:
    """An exact amount as the upstream takes it: a string with 2 places, "12.50"."""
    return str(parse_money(value))


# Price inquiries (ListOnDemandResourceRatings) answer exact amounts with up to 6 places: prices, not amounts
# of money that move; they stay exact to 6 places and are rounded half up there, as the platform rounds them.
PRICE_PLACES = Decimal("0.000001")


def to_price(value: object) -> Decimal:
    """An inquiry price rounded half up to 6 places: "0.0000075" → Decimal("0.000008")."""
    amount = parse_decimal(value)
    if amount is None:
        raise MoneyError("A price is required.")
    try:
        return amount.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise MoneyError(f"{value!r} is too large a price.") from None


def price_str(value: object) -> str:
    """A price as a quote writes it: 2 places at least, 6 at most ("12.50", "0.504", "0.000006")."""
    price = to_price(value)
    cents = _cents(price, value)
    return str(cents if cents == price else price.normalize())


def format_money(value: object, symbol: str = "¥") -> str:
    """¥1,234.56 (negative: -¥1,234.56); an empty string for None."""
    if value is None or value == "":
        return ""
    amount = to_money(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"
