"""Fixtures shared by every app's tests: personas, the running simulator, Redis, live servers."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


@pytest.fixture(scope="session")
def upstream_sim(tmp_path_factory):
    """The bundled upstream simulator, started once per test session on a free loopback port."""
    from upstream.simulator.testing import SimulatorProcess

    data_dir = tmp_path_factory.mktemp("upstream-sim")
    sim = SimulatorProcess(customers=60, seed=7, resellers=2, data_dir=data_dir, warning_interval=0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def upstream_settings(settings, upstream_sim):
    """Point the portal's upstream settings at the session simulator, with its faults cleared."""
    upstream_sim.clear_faults()
    settings.UPSTREAM_ENDPOINT = upstream_sim.url
    settings.UPSTREAM_AK = "demo-ak"
    settings.UPSTREAM_SK = "demo-sk"
    settings.UPSTREAM_DOMAIN_ID = "demo-distributor"
    settings.UPSTREAM_PARTNER_ID = "demo-distributor"
    settings.UPSTREAM_IS_SIMULATOR = True
    return settings


# --- speed: a fast password hasher for tests ---------------------------------------------------------------


def _django_active(request) -> bool:
    # The simulator's own tests run with `-p no:django`; these fixtures then stay out of the way.
    return request.config.pluginmanager.hasplugin("django")


@pytest.fixture(autouse=True)
def _fast_password_hasher(request):
    if _django_active(request):
        settings = request.getfixturevalue("settings")
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_redis_cache(request):
    """Each test starts with an empty cache (rate-limit counters, locks) in the test Redis database."""
    if _django_active(request):
        from django.core.cache import cache

        # Only the cache's own keys: the Celery broker and the worker heartbeat share this Redis database.
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("*")))
        if keys:
            client.delete(*keys)


# --- personas: a distributor with two resellers, and one staff user per role -------------------------------

PASSWORD = "portal-demo-test"


@pytest.fixture
def partners(db):
    """Demo Distributor with Reseller A and Reseller B, as in the demo data."""
    from accounts.models import Partner
    from accounts.services import ensure_partner

    dist = ensure_partner(upstream_id="demo-distributor", name="Demo Distributor", tier=Partner.Tier.DISTRIBUTOR)
    ra = ensure_partner(upstream_id="ip-reseller-a", name="Reseller A", tier=Partner.Tier.RESELLER, parent=dist)
    rb = ensure_partner(upstream_id="ip-reseller-b", name="Reseller B", tier=Partner.Tier.RESELLER, parent=dist)
    return {"dist": dist, "ra": ra, "rb": rb}


@pytest.fixture
def make_staff(partners):
    """make_staff("ra", "sales", username=...) → a staff user of that partner with that role."""
    from accounts.services import ensure_staff_user

    def make(partner_key: str, role: str, username: str | None = None, **extra):
        username = username or f"{partner_key}-{role}"
        return ensure_staff_user(
            username=username,
            partner=partners[partner_key],
            role=role,
            password=PASSWORD,
            email=extra.pop("email", f"{username}@partner.example.com"),
            phone=extra.pop("phone", "13800138000"),
            **extra,
        )

    return make


@pytest.fixture
def dist_admin(make_staff):
    return make_staff("dist", "admin")


@pytest.fixture
def ra_admin(make_staff):
    return make_staff("ra", "admin")


@pytest.fixture
def ra_finance(make_staff):
    return make_staff("ra", "finance")


@pytest.fixture
def ra_sales(make_staff):
    return make_staff("ra", "sales")


@pytest.fixture
def ra_viewer(make_staff):
    return make_staff("ra", "viewer")


@pytest.fixture
def rb_admin(make_staff):
    """The outsider: an administrator of the other reseller."""
    return make_staff("rb", "admin")


@pytest.fixture
def client_for(client):
    """client_for(user) → the test client signed in as that user."""

    def sign_in(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return sign_in
