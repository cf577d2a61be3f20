import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import example, given
from hypothesis import strategies as st

from portal.lib import env
from portal.lib.masking import mask_account_name, mask_email, mask_name, mask_phone
from portal.lib.money import CENT, MoneyError, format_money, money_str, parse_money, to_money


class TestSettingsHelpers:
    def test_booleans_accept_the_usual_spellings(self, monkeypatch):
        for raw, expected in [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)]:
            monkeypatch.setenv("X_FLAG", raw)
            assert env.env_bool("X_FLAG", default=not expected) is expected

    def test_a_boolean_that_is_not_one_is_refused(self, monkeypatch):
        monkeypatch.setenv("X_FLAG", "maybe")
        with pytest.raises(ImproperlyConfigured, match="X_FLAG must be a boolean"):
            env.env_bool("X_FLAG", default=False)

    def test_numbers_are_checked_for_form_and_range(self, monkeypatch):
        monkeypatch.setenv("X_NUM", "12x")
        with pytest.raises(ImproperlyConfigured, match="whole number"):
            env.env_int("X_NUM", 1)
        monkeypatch.setenv("X_NUM", "0")
        with pytest.raises(ImproperlyConfigured, match="at least 1"):
            env.env_int("X_NUM", 5, minimum=1)
        monkeypatch.setenv("X_NUM", "70000")
        with pytest.raises(ImproperlyConfigured, match="at most 65535"):
            env.env_int("X_NUM", 5, maximum=65535)
        monkeypatch.setenv("X_NUM", " 42 ")
        assert env.env_int("X_NUM", 5) == 42

    def test_floats_are_checked(self, monkeypatch):
        monkeypatch.setenv("X_F", "fast")
        with pytest.raises(ImproperlyConfigured, match="must be a number"):
            env.env_float("X_F", 1.0)
        monkeypatch.setenv("X_F", "-1")
        with pytest.raises(ImproperlyConfigured, match="at least 0"):
            env.env_float("X_F", 1.0, minimum=0)

    def test_urls_need_a_known_scheme_and_a_host(self, monkeypatch):
        monkeypatch.setenv("X_URL", "mysql://db/portal")
        with pytest.raises(ImproperlyConfigured, match="scheme postgres"):
            env.env_url("X_URL", "postgres://x/y", schemes=("postgres",))
        monkeypatch.setenv("X_URL", "redis://")
        with pytest.raises(ImproperlyConfigured):
            env.env_url("X_URL", "redis://x", schemes=("redis",))
        monkeypatch.setenv("X_URL", "redis://cache:6379/2")
        assert env.env_url("X_URL", "redis://x", schemes=("redis",)) == "redis://cache:6379/2"

    def test_a_required_string_without_default_must_be_set(self, monkeypatch):
        monkeypatch.delenv("X_REQUIRED", raising=False)
        with pytest.raises(ImproperlyConfigured, match="Set the environment variable X_REQUIRED"):
            env.env_str("X_REQUIRED")

    def test_lists_and_choices(self, monkeypatch):
        monkeypatch.setenv("X_LIST", "a, b,,c ")
        assert env.env_list("X_LIST", []) == ["a", "b", "c"]
        monkeypatch.setenv("X_CHOICE", "blue")
        with pytest.raises(ImproperlyConfigured, match="one of red, green"):
            env.env_choice("X_CHOICE", "red", ("red", "green"))


class TestMoney:
    def test_money_is_formatted_with_yuan_sign_and_thousands(self):
        assert format_money(Decimal("1234.5")) == "¥1,234.50"
        assert format_money("0") == "¥0.00"
        assert format_money(Decimal("-9876543.21")) == "-¥9,876,543.21"
        assert format_money(None) == ""

    def test_money_never_goes_through_float(self):
        with pytest.raises(TypeError):
            to_money(0.1)
        assert to_money("0.105") == Decimal("0.11")
        with pytest.raises(ValueError):
            to_money("abc")
        with pytest.raises(ValueError):
            to_money("NaN")

    def test_bad_amounts_get_a_clear_error(self):
        for bad in ["", "abc", "1,000", "12.5.1", "NaN", "-Infinity", "1e3", "1_000", "١٢", "0x10", None, []]:
            with pytest.raises(MoneyError):
                parse_money(bad)
        with pytest.raises(MoneyError, match="more than 2 decimal places") as error:
            parse_money("12.345")
        assert error.value.code == "too_precise"
        with pytest.raises(MoneyError, match="too large"):
            parse_money("1" * 40)
        with pytest.raises(TypeError):
            parse_money(True)

    @given(
        st.decimals(places=2, min_value=-(10**15), max_value=10**15, allow_nan=False, allow_infinity=False)
    )
    @example(Decimal("-0.00"))
    @example(Decimal("0.1"))
    def test_every_two_place_amount_survives_the_round_trip(self, amount):
        assert parse_money(amount) == amount
        wire = money_str(amount)
        assert re.fullmatch(r"-?\d+\.\d{2}", wire)
        assert parse_money(wire) == amount == parse_money(f"  {wire} ")
        assert parse_money(wire).as_tuple().exponent == -2

    @given(st.decimals(places=6, min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False))
    def test_more_places_are_refused_exactly_and_rounded_half_up_on_request(self, amount):
        rounded = to_money(amount)
        assert abs(rounded - amount) <= CENT / 2
        assert rounded.as_tuple().exponent == -2
        if rounded != amount:
            with pytest.raises(MoneyError):
                parse_money(amount)
        else:
            assert parse_money(amount) == rounded

    @given(st.text(max_size=40))
    @example("\x00")
    @example("٣٫١٤")
    @example("1_000")
    def test_any_text_is_an_amount_or_a_money_error(self, text):
        try:
            amount = parse_money(text)
        except MoneyError:
            return
        assert amount.is_finite() and amount == amount.quantize(CENT)

    def test_the_portal_has_one_money_parser(self):
        """No app keeps its own CENT or parses amounts by hand (upstream/simulator is a separate program)."""
        root = Path(__file__).resolve().parents[2]
        own = re.compile(r"^CENT\s*=|InvalidOperation|Decimal\(str\(|\.quantize\(", re.M)
        offenders = []
        for app in ("accounts", "customers", "billing", "upstream", "portal"):
            for path in (root / app).rglob("*.py"):
                rel = path.relative_to(root).as_posix()
                if rel.startswith(("upstream/simulator/", "portal/lib/money.py")) or "/tests/" in rel:
                    continue
                if own.search(path.read_text()):
                    offenders.append(rel)
        assert not offenders, offenders


class TestMasking:
    def test_names_keep_the_first_character(self):
        assert mask_name("张伟") == "张*"
        assert mask_name("北京某某科技有限公司") == "北********"
        assert mask_name("") == ""

    def test_phones_keep_the_ends(self):
        assert mask_phone("13812345678") == "138****5678"
        assert mask_phone("12345") == "***45"

    def test_emails_keep_the_first_letter_and_domain(self):
        assert mask_email("alice@example.com") == "a***@example.com"

    def test_account_names_keep_the_ends(self):
        assert mask_account_name("hwc-abc123") == "hw*******3"
        assert "abc12" not in mask_account_name("hwc-abc123")


class TestRedisCache:
    def test_one_client_serves_every_operation_and_values_round_trip(self):
        from django.core.cache import caches

        from portal.lib.cache import RedisCache

        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        client = cache._cache.get_client(write=True)
        assert cache._cache.get_client() is client
        cache.set("lib-test", {"amount": Decimal("1.10")}, 30)
        assert cache.get("lib-test") == {"amount": Decimal("1.10")}
        assert cache.delete("lib-test") and cache.get("lib-test") is None
