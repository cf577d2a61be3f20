"""Production settings and configuration files: check --deploy, DEBUG off by default, `.env` loading,
one variable per line in .env.example, the generated development .env, and `make test-fast`."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRET = "x9!kR2#pQ7vL0@mZ4$wT8^nB3&cY6*hJ1(fD5)gS_eA-uI+oP="
# Variables the test process sets for itself (pytest-django, portal/settings_test.py): never inherited.
NOT_INHERITED = {
    "DEBUG",
    "SECRET_KEY",
    "PORTAL_HTTPS",
    "PORTAL_DEMO",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
    "PORTAL_ENV_FILE",
}


def _manage(*args, env_file: str = "", **env_overrides):
    """Run manage.py as an operator would: portal.settings, the given .env file (none by default)."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env["PORTAL_ENV_FILE"] = env_file
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
        SECRET_KEY=PRODUCTION_SECRET,
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_models_and_migrations_agree():
    """makemigrations --check finds nothing to write (run as a developer would, DEBUG=1)."""
    result = _manage("makemigrations", "--check", "--dry-run", DEBUG="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_check_deploy_flags_demo_mode_without_debug():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        PORTAL_DEMO="1",
        SECRET_KEY=PRODUCTION_SECRET,
        ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode != 0
    assert "portal.W001" in result.stderr and "PORTAL_DEMO=1 with DEBUG=0" in result.stderr
    # Development (DEBUG=1) with the demo is what `make run` does: no warning there.
    assert "portal.W001" not in _manage("check", "--deploy", DEBUG="1", PORTAL_DEMO="1").stderr


def test_production_refuses_to_start_with_the_development_secret():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "refuses to start with the development secret" in result.stderr


def test_debug_is_off_unless_set():
    """Without DEBUG in the environment the portal runs as production: it wants its own secret."""
    result = _manage("check")
    assert result.returncode != 0
    assert "refuses to start with the development secret" in result.stderr
    shown = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", SECRET_KEY=PRODUCTION_SECRET
    )
    assert shown.stdout.strip().splitlines()[-1] == "False", shown.stderr


def test_manage_py_reads_the_env_file_and_the_shell_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DEBUG=0\nSECRET_KEY={PRODUCTION_SECRET}\nUPSTREAM_RATE_LIMIT=ten\n")
    result = _manage("check", env_file=str(env_file))
    assert result.returncode != 0
    assert "UPSTREAM_RATE_LIMIT must be a number" in result.stderr  # read from the file
    result = _manage("check", env_file=str(env_file), UPSTREAM_RATE_LIMIT="7")
    assert result.returncode == 0, result.stderr  # the shell's value wins over the file's


def _assignments(line: str) -> list[str]:
    return re.findall(r"(?:^|\s)#?\s*([A-Z][A-Z0-9_]+)=", line)


def test_env_example_has_one_variable_per_line_and_every_line_may_be_uncommented(tmp_path):
    example = (ROOT / ".env.example").read_text()
    for number, line in enumerate(example.splitlines(), 1):
        assert len(_assignments(line)) <= 1, f".env.example line {number} sets several variables: {line}"
    uncommented = re.sub(r"^# ([A-Z][A-Z0-9_]+=)", r"\1", example, flags=re.M)
    env_file = tmp_path / ".env"
    env_file.write_text(uncommented)
    result = _manage("check", env_file=str(env_file))
    assert result.returncode == 0, result.stderr


def test_env_example_names_every_setting_the_portal_reads():
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'env_[a-z]+\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    internal = {"PORTAL_BENCH", "CELERY_TASK_ALWAYS_EAGER"}  # benchmarks and tests, not configuration
    listed = {
        name for line in (ROOT / ".env.example").read_text().splitlines() for name in _assignments(line)
    }
    assert read - internal - listed == set()


def test_the_generated_env_is_for_development_and_says_what_debug_does():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from make_env import development_env
    finally:
        sys.path.pop(0)
    text = development_env((ROOT / ".env.example").read_text())
    assert "\nDEBUG=1\n" in text and "\nDEBUG=0\n" not in text
    comment = text[: text.index("\nDEBUG=1\n")].rsplit("\n\n", 1)[-1]
    assert "tracebacks" in comment and "static files" in comment
    assert "change-me" not in text and re.search(r"^SECRET_KEY=\S{50,}$", text, re.M)


def test_make_test_fast_leaves_out_slow_and_browser_tests_and_make_test_runs_everything():
    fast = subprocess.run(["make", "-n", "test-fast"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    full = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    fast_pytest = [line for line in fast.stdout.splitlines() if "bin/pytest" in line]
    full_pytest = [line for line in full.stdout.splitlines() if "bin/pytest" in line]
    assert fast_pytest and '-m "not slow and not browser"' in fast_pytest[0]
    assert full_pytest and "-m" not in full_pytest[0].split()


def test_a_bad_setting_stops_the_start_with_a_clear_message():
    result = _manage("check", DEBUG="1", UPSTREAM_RATE_LIMIT="ten")
    assert result.returncode != 0
    assert "UPSTREAM_RATE_LIMIT must be a number" in result.stderr


def test_the_repository_stands_alone():
    """The README and docs/ point to nothing outside the repository, and every docs/ link they make exists."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for document in documents:
        text = document.read_text()
        assert "../shared" not in text and "/work/shared" not in text, document.name
        for link in re.findall(r"\]\(((?:docs/)?[\w.-]+\.md)\)", text):
            base = ROOT if document.name == "README.md" else ROOT / "docs"
            assert (base / link).is_file(), f"{document.name} links to missing {link}"
    for name in ("architecture.md", "upstream.md", "operations.md"):
        assert (ROOT / "docs" / name).is_file()
    readme = (ROOT / "README.md").read_text()
    assert all(f"docs/{name}" in readme for name in ("architecture.md", "upstream.md", "operations.md"))
    outside = re.compile(r"\.\./shared|\bUPSTREAM\.md|\bDESIGN\.md|HOUSE_STYLE\.md")
    sources = [
        path
        for pattern in ("*.py", "*.md", "*.html", "*.txt", "Makefile", ".env.example")
        for path in ROOT.rglob(pattern)
        if not {".venv", "var", "node_modules", ".git"} & set(path.relative_to(ROOT).parts)
        and path != Path(__file__).resolve()
    ]
    assert [str(p.relative_to(ROOT)) for p in sources if outside.search(p.read_text(errors="replace"))] == []
