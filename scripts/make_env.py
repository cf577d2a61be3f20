"""Write .env from .env.example on first run: a fresh random SECRET_KEY, and DEBUG=1 for development.

An existing .env stays as it is.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

DEVELOPMENT_DEBUG = """\
# DEBUG=1 is for development on this machine only: error pages with tracebacks and settings in the browser,
# static files served straight from the source tree (no collectstatic), and HTTPS off by default. Never on a
# server others can reach: set DEBUG=0 there (docs/operations.md).
DEBUG=1"""


def development_env(example: str) -> str:
    """The text of a development .env made from .env.example."""
    if "\nDEBUG=0\n" not in example or "SECRET_KEY=change-me-to-50-random-characters" not in example:
        raise SystemExit(".env.example no longer has the DEBUG=0 and SECRET_KEY lines this script replaces.")
    text = example.replace("\nDEBUG=0\n", f"\n{DEVELOPMENT_DEBUG}\n", 1)
    return text.replace(
        "SECRET_KEY=change-me-to-50-random-characters", f"SECRET_KEY={secrets.token_urlsafe(50)}", 1
    )


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    target = root / ".env"
    if target.exists():
        sys.exit(0)
    target.write_text(development_env((root / ".env.example").read_text()))
    print("Wrote .env with a new SECRET_KEY and DEBUG=1 (development)")


if __name__ == "__main__":
    main()
