"""Production settings: check --deploy is clean, and the default secret refuses to start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "PORTAL_HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x9!kR2#pQ7vL0@mZ4$wT8^nB3&cY6*hJ1(fD5)gS_eA-uI+oP=",
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_with_the_development_secret():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "refuses to start with the development secret" in result.stderr


def test_a_bad_setting_stops_the_start_with_a_clear_message():
    result = _manage("check", UPSTREAM_RATE_LIMIT="ten")
    assert result.returncode != 0
    assert "UPSTREAM_RATE_LIMIT must be a number" in result.stderr
