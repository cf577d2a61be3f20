#!/usr/bin/env python
"""Django's command-line utility for the partner portal.

Run by hand, it reads `.env` as `make run` does (through honcho), so `python manage.py shell` talks to the
same database with the same settings. Variables already set in the shell win over `.env`;
PORTAL_ENV_FILE names another file (an empty value or a missing file reads none).
"""

import os
import sys
from pathlib import Path


def load_env_file() -> None:
    path = os.environ.get("PORTAL_ENV_FILE", str(Path(__file__).resolve().parent / ".env"))
    if path and Path(path).is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def main():
    load_env_file()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
