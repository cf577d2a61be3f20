import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = {lang: ROOT / "locale" / lang / "LC_MESSAGES" / "django.po" for lang in ("zh_Hans", "en")}
SOURCE_DIRS = ["portal", "accounts", "customers", "billing", "upstream", "templates"]


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_every_catalogue_entry_is_translated(lang):
    po = polib.pofile(str(CATALOGUES[lang]))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated and not fuzzy, (untranslated[:10], fuzzy[:10])


@pytest.mark.slow
def test_the_catalogues_hold_every_marked_string(tmp_path):
    """Run makemessages on a copy of the source: it must find no msgid the catalogues lack."""
    for name in [*SOURCE_DIRS, "manage.py"]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "simulator"))
        else:
            shutil.copy(src, tmp_path / name)
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-v", "0"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    found = {e.msgid for e in polib.pofile(str(tmp_path / "locale/zh_Hans/LC_MESSAGES/django.po"))}
    for lang, path in CATALOGUES.items():
        have = {e.msgid for e in polib.pofile(str(path)) if not e.obsolete}
        assert not (found - have), f"{lang} lacks: {sorted(found - have)[:10]}"


@pytest.mark.django_db
class TestLanguageSwitch:
    def test_chinese_is_the_default(self, client_for, ra_admin):
        page = client_for(ra_admin).get("/").content.decode()
        assert '<html lang="zh-hans">' in page
        assert "客户预警" in page and "运营看板" in page

    def test_switching_to_english_and_back(self, client_for, ra_admin):
        client = client_for(ra_admin)
        response = client.post("/i18n/setlang/", {"language": "en", "next": "/customers/"})
        assert response.status_code == 302 and response["Location"] == "/customers/"
        page = client.get("/").content.decode()
        assert '<html lang="en">' in page
        assert "Customer warnings" in page and "Dashboard" in page and "客户预警" not in page
        client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
        assert "客户预警" in client.get("/").content.decode()

    def test_an_unknown_language_is_ignored(self, client_for, ra_admin):
        client = client_for(ra_admin)
        client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
        assert '<html lang="zh-hans">' in client.get("/").content.decode()

    def test_the_login_page_speaks_the_browsers_language(self, client):
        page = client.get("/accounts/login/", headers={"Accept-Language": "en"}).content.decode()
        assert "Sign in" in page
        page = client.get("/accounts/login/", headers={"Accept-Language": "zh-CN"}).content.decode()
        assert "登录" in page


@pytest.mark.django_db
def test_dates_are_shown_in_the_users_time_zone(client_for, ra_admin, partners):
    from datetime import UTC, datetime

    from accounts.models import AuditEvent

    AuditEvent.objects.create(
        partner=partners["ra"], action="tz-check", created_at=datetime(2026, 1, 1, 16, 30, tzinfo=UTC)
    )
    client = client_for(ra_admin)
    assert "2026-01-02 00:30" in client.get("/accounts/audit/?action=tz-check").content.decode()
    ra_admin.time_zone = "Europe/London"
    ra_admin.save()
    assert "2026-01-01 16:30" in client.get("/accounts/audit/?action=tz-check").content.decode()
