"""Money helpers: amounts are Decimal with 2 places (CNY yuan), never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    """A Decimal with exactly 2 places from a Decimal, int or string; floats are refused."""
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a Decimal or a string.")
    if isinstance(value, Decimal):
        amount = value
    else:
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount of money.") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: object, symbol: str = "¥") -> str:
    """¥1,234.56 (negative: -¥1,234.56); an empty string for None."""
    if value is None or value == "":
        return ""
    amount = to_money(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"
