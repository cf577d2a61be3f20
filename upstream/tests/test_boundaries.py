"""Boundaries and settings: `upstream` imports no app, settings defaults live in settings.py only, and the
sync schedule matches the dataset registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "upstream"
APPS = ("accounts", "customers", "billing", "portal")
ALLOWED = ("portal.lib", "portal.settings")  # shared helpers and settings, not apps


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (functions included)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _upstream_modules() -> list[Path]:
    # Its tests are left out: they exercise the link as the portal composes it, with the apps' mappings.
    return [p for p in UPSTREAM.rglob("*.py") if "tests" not in p.relative_to(UPSTREAM).parts]


def test_upstream_imports_no_app():
    offenders = []
    for path in _upstream_modules():
        for name in _imports(path):
            top = name.split(".")[0]
            if (
                top in APPS
                and not name.startswith(ALLOWED)
                and not any(a.startswith(name + ".") for a in ALLOWED)
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_the_boundary_check_catches_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from customers.models import Customer\n    import billing.services\n")
    assert {"customers.models", "billing.services"} <= set(_imports(module))


@pytest.mark.django_db
def test_commands_for_finds_an_objects_commands_oldest_first(partners):
    from upstream.models import OutboxCommand
    from upstream.outbox import commands_for

    dist, ra = partners["dist"], partners["ra"]
    first = OutboxCommand.objects.create(
        kind="k", partner_key="p", object_type="accounts.partner", object_id=str(dist.pk)
    )
    second = OutboxCommand.objects.create(
        kind="k", partner_key="p", object_type="accounts.partner", object_id=str(dist.pk)
    )
    OutboxCommand.objects.create(
        kind="k", partner_key="p", object_type="accounts.partner", object_id=str(ra.pk)
    )
    OutboxCommand.objects.create(
        kind="k", partner_key="p", object_type="accounts.user", object_id=str(dist.pk)
    )
    assert list(commands_for(dist)) == [first, second]


def test_views_reach_outbox_rows_through_commands_for_not_labels():
    views = (ROOT / "customers" / "views.py").read_text(encoding="utf-8")
    assert "OutboxCommand" not in views and "commands_for(" in views


def test_the_moved_commands_are_the_portals():
    from django.core.management import get_commands

    commands = get_commands()
    assert commands["seed_scale"] == "portal" and commands["bench_sync"] == "portal"


# --- one place per setting ----------------------------------------------------------------------------------

GETATTR_DEFAULT = re.compile(r"getattr\(\s*(django_)?settings\s*,\s*['\"][A-Z0-9_]+['\"]\s*,")


def test_no_module_restates_a_settings_default():
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "node_modules", "var") or rel.parts[0].startswith("."):
            continue
        if GETATTR_DEFAULT.search(path.read_text(encoding="utf-8", errors="replace")):
            offenders.append(str(rel))
    assert offenders == [], "state the default in portal/settings.py and read settings.X"


def test_the_outbox_reads_its_settings_from_settings(settings):
    from upstream import outbox

    settings.OUTBOX_MAX_ATTEMPTS = 3
    settings.UPSTREAM_READ_TIMEOUT = 2.0
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 1.0
    assert outbox.max_attempts() == 3
    assert outbox.reconcile_delay().total_seconds() == 3.0
    del settings.OUTBOX_MAX_ATTEMPTS
    with pytest.raises(AttributeError):  # no hidden default elsewhere
        outbox.max_attempts()


def test_sync_schedule_matches_the_dataset_registry():
    from upstream.sync import REGISTRY

    assert set(settings.SYNC_SCHEDULE) == set(REGISTRY), "every dataset has a schedule, and no other"
    for name, seconds in settings.SYNC_SCHEDULE.items():
        entry = settings.CELERY_BEAT_SCHEDULE[f"sync-{name}"]
        assert entry["task"] == "upstream.sync_dataset" and entry["args"] == [name]
        assert entry["schedule"] == float(seconds) > 0
    beat_datasets = {
        e["args"][0] for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "upstream.sync_dataset"
    }
    assert beat_datasets == set(REGISTRY)
