"""manage.py run_upstream_sim: run the bundled upstream simulator in the foreground."""

from __future__ import annotations

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from upstream.simulator import server


class Command(BaseCommand):
    help = (
        "Run the upstream simulator (Huawei Cloud BSS partner API stand-in) until SIGTERM/SIGINT. "
        "Fault-injection environment variables: see python -m upstream.simulator --help."
    )

    def add_arguments(self, parser):
        server.add_arguments(parser)
        parser.set_defaults(
            port=settings.UPSTREAM_SIM_PORT,
            data_dir=str(settings.BASE_DIR / "var" / "upstream-sim"),
        )

    def handle(self, *args, **options):
        names = {action.dest for action in server.build_parser()._actions if action.dest != "help"}
        code = server.main(argparse.Namespace(**{name: options[name] for name in names}))
        if code:
            raise CommandError(f"the upstream simulator exited with status {code}")
