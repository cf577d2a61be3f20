"""Add translations to both catalogues: `python scripts/i18n_add.py translations.json`.

The file maps each English msgid to its Simplified Chinese text, or, for a plural, to
`{"plural": "<English plural msgid>", "zh": "<Chinese>"}`. Entries already translated are left alone unless
`--force`. The English catalogue gets the msgid itself. Takes a file lock, so several people (or scripts)
may add at once; run `make messages-update` afterwards to refresh the source references.
"""

from __future__ import annotations

import argparse
import fcntl
import json
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = {lang: ROOT / "locale" / lang / "LC_MESSAGES" / "django.po" for lang in ("zh_Hans", "en")}


def add(po: polib.POFile, msgid: str, value, lang: str, force: bool) -> bool:
    plural = value.get("plural") if isinstance(value, dict) else None
    zh = value["zh"] if isinstance(value, dict) else value
    entry = po.find(msgid)
    if entry is None:
        entry = polib.POEntry(msgid=msgid, msgid_plural=plural or "")
        po.append(entry)
    elif entry.obsolete:
        entry.obsolete = False
    elif entry.translated() and not force:
        return False
    if "fuzzy" in entry.flags:
        entry.flags.remove("fuzzy")
    if plural or entry.msgid_plural:
        entry.msgid_plural = entry.msgid_plural or plural
        if lang == "en":
            entry.msgstr_plural = {0: msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr_plural = {0: zh}
    else:
        entry.msgstr = msgid if lang == "en" else zh
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--force", action="store_true", help="overwrite existing translations")
    args = parser.parse_args()
    pairs: dict = {}
    for path in args.files:
        pairs.update(json.loads(path.read_text(encoding="utf-8")))
    with open(ROOT / "locale" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for lang, path in CATALOGUES.items():
            po = polib.pofile(str(path), wrapwidth=79)
            changed = sum(add(po, msgid, value, lang, args.force) for msgid, value in pairs.items())
            po.save(str(path))
            print(f"{lang}: {changed} entries added or updated")


if __name__ == "__main__":
    main()
