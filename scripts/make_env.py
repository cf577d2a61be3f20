"""Write .env from .env.example on first run, with a fresh random SECRET_KEY; an existing .env stays."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = root / ".env"
if target.exists():
    sys.exit(0)
text = (root / ".env.example").read_text()
key = secrets.token_urlsafe(50)
text = text.replace("SECRET_KEY=change-me-to-50-random-characters", f"SECRET_KEY={key}")
target.write_text(text)
print("Wrote .env with a new SECRET_KEY")
