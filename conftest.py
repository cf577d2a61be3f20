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


@pytest.fixture
def private_upstream(settings, upstream_settings, tmp_path):
    """A simulator of the test's own, for a test that spends what the session's simulator must keep for the
    others (a reseller's whole balance, the customers whose switch passes the account check)."""
    from upstream.simulator.testing import SimulatorProcess

    with SimulatorProcess(customers=60, seed=7, resellers=2, data_dir=tmp_path / "sim", rate_limit=0) as sim:
        settings.UPSTREAM_ENDPOINT = sim.url
        yield sim


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

    dist = ensure_partner(
        upstream_id="demo-distributor", name="Demo Distributor", tier=Partner.Tier.DISTRIBUTOR
    )
    ra = ensure_partner(
        upstream_id="ip-reseller-a", name="Reseller A", tier=Partner.Tier.RESELLER, parent=dist
    )
    rb = ensure_partner(
        upstream_id="ip-reseller-b", name="Reseller B", tier=Partner.Tier.RESELLER, parent=dist
    )
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
        client.force_login(user, backend="accounts.backends.PortalBackend")
        return client

    return sign_in


# --- a real Celery worker, as a separate process on the test database and the test Redis ------------------


class WorkerProcess:
    """`celery -A portal worker` in a subprocess that uses the test database; output goes to a log file."""

    def __init__(self, env: dict[str, str], log_path):
        self.env = env
        self.log_path = log_path
        self.proc = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        import subprocess
        import sys
        import time
        from pathlib import Path

        import redis
        from django.conf import settings

        from portal.celery import HEARTBEAT_KEY

        client = redis.Redis.from_url(settings.REDIS_URL)
        client.delete(HEARTBEAT_KEY)
        log = open(self.log_path, "ab")  # noqa: SIM115  (the worker process owns it)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=Path(__file__).resolve().parent,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.get(HEARTBEAT_KEY) is not None:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Celery worker did not start:\n{Path(self.log_path).read_text()[-4000:]}")

    def stop(self, *, kill: bool = False) -> None:
        import signal

        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=10)


def worker_env(**overrides) -> dict[str, str]:
    """The environment for a worker subprocess: the test database and Redis, plus overrides."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "WORKER_HEARTBEAT_SECONDS": "1",
            # Tests start the syncs they want; no initial pull of everything.
            "SYNC_ON_WORKER_START": "0",
            "DB_POOL": "0",
        }
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@pytest.fixture
def celery_worker_process(django_db_setup, tmp_path):
    """A real Celery worker for one test (with `transactional_db`: the worker sees committed rows only)."""
    worker = WorkerProcess(worker_env(), tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()


# --- browser tests: Playwright driving Debian's Chromium, headless -----------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian's; Playwright cannot download browsers here)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it are
    # ordinary blocking calls, so tell Django they are safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context and page; page.base_url is the live server's address."""
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = console_errors
    yield page
    context.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has settled what it swapped in.

    htmx wires up the triggers of swapped-in content when it settles (20 ms after the swap), so a browser
    test that acts on a new element at once can beat it: a change made then is never sent (no person is that
    fast). Cascading choosers wait for this between choices.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def shot(page, name: str) -> None:
    """Keep a full-page screenshot of what a browser test sees, when PORTAL_SHOTS_DIR names a folder (to look
    at the pages in both languages and sizes); nothing is written otherwise."""
    folder = os.environ.get("PORTAL_SHOTS_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)
