"""manage.py bench_pages --user NAME: the URLs `make bench` measures, filled from the running data (JSON).

The driver (bench/run.py) runs this before it starts gunicorn, so every URL argument (a customer, a name to
search, the last page) comes from the data the benchmark runs on, as that user sees it.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from bench.pages import PAGES, compute_facts


class Command(BaseCommand):
    help = "Print the benchmark's pages as JSON, their URL arguments discovered from the data."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="dist-admin", help="The signed-in user of the benchmark.")

    def handle(self, *args, user: str, **options):
        try:
            staff = User.objects.select_related("partner").get(username=user)
        except User.DoesNotExist:
            raise CommandError(
                f"No user {user!r}: run `manage.py seed_demo` (or seed_scale) first, or set BENCH_USER."
            ) from None
        if staff.partner is None:
            raise CommandError(f"{user!r} belongs to no partner, so it sees no portal pages.")
        facts = compute_facts(staff)
        pages = {page.name: page.url(facts) for page in PAGES}
        self.stdout.write(json.dumps({"user": user, "facts": facts, "pages": pages}, default=str))
