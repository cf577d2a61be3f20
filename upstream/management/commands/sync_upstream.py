"""manage.py sync_upstream [--dataset NAME] [--mode full|incremental]: run syncs now, with a progress bar."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from upstream.models import SyncRun
from upstream.sync import REGISTRY, SyncAlreadyRunning, datasets, run_dataset


class ProgressBar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, name: str, stream=sys.stderr):
        self.name = name
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_print = 0.0

    def __call__(self, run: SyncRun) -> None:
        now = time.monotonic()
        if now - self.last_print < (0.2 if self.tty else 5):
            return
        self.last_print = now
        self.stream.write(("\r" if self.tty else "") + self.line(run) + ("" if self.tty else "\n"))
        self.stream.flush()

    def line(self, run: SyncRun) -> str:
        total = run.rows_total or 0
        done = run.rows_seen
        width = 30
        filled = int(width * done / total) if total else 0
        rate = done / max(time.monotonic() - self.started, 1e-6)
        pct = f"{100 * done / total:5.1f}%" if total else "  ?  "
        bar = "#" * filled + "." * (width - filled)
        return f"{self.name:<22} [{bar}] {pct} {done}/{total or '?'} rows {rate:,.0f}/s"


class Command(BaseCommand):
    help = "Pull datasets from the upstream API now (all of them, in dependency order, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", choices=sorted(REGISTRY), help="Only this dataset.")
        parser.add_argument("--mode", choices=[m.value for m in SyncRun.Mode], help="Default: as scheduled.")

    def handle(self, *args, dataset=None, mode=None, **options):
        names = [dataset] if dataset else [d.name for d in datasets()]
        failed = False
        for name in names:
            bar = ProgressBar(name)
            try:
                run = run_dataset(name, mode=mode, on_page=bar)
            except SyncAlreadyRunning:
                self.stderr.write(f"{name}: already running elsewhere; skipped")
                continue
            if bar.tty:
                self.stderr.write("\n")
            summary = (
                f"{name:<22} {run.status:<9} {run.mode:<11} pages={run.pages} read={run.rows_seen} "
                f"created={run.rows_created} updated={run.rows_updated} gone={run.rows_vanished} "
                f"in {run.duration.total_seconds():.1f}s"
            )
            self.stdout.write(summary)
            if run.status != SyncRun.Status.SUCCEEDED:
                failed = True
                self.stderr.write(run.errors)
        if failed:
            raise CommandError("Some datasets failed; see above.")
