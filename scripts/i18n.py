"""Message catalogs of the browser UI (ui.md §9.1).

    python scripts/i18n.py extract   # src/depotflow/ui -> src/depotflow/ui/locale/messages.pot
    python scripts/i18n.py update    # messages.pot -> locale/{en,ro}/LC_MESSAGES/messages.po

`extract` reads Python (`_`, `gettext`, `ngettext`, `pgettext`, `npgettext`) and templates
(`{% trans %}` and the same calls) as configured in src/depotflow/ui/babel.cfg. `update` merges the
template into each catalog, keeping existing translations; entries no longer in the source are kept
as obsolete (`#~`) and come back if the string returns (`--drop-obsolete` removes them). The English
catalog is the source language: its msgstr may stay empty. New Romanian strings must be translated
(tests/ui/test_catalogs.py fails until they are); remove any `#, fuzzy` flag after checking a guess.

The catalogs are read at run time from the .po files: there is no compile step.
"""

import argparse
import io
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
UI_DIR = ROOT / "src" / "depotflow" / "ui"
LOCALE_DIR = UI_DIR / "locale"
MAPPING_FILE = UI_DIR / "babel.cfg"
POT_FILE = LOCALE_DIR / "messages.pot"
DOMAIN = "messages"
LOCALES = ("en", "ro")
SOURCE_LOCALE = "en"
KEYWORDS: Sequence[str] = (
    "_",
    "gettext",
    "ngettext:1,2",
    "pgettext:1c,2",
    "npgettext:1c,2,3",
    # Route helpers that translate a literal for a request or locale: translate(locale, msgid).
    "translate:2",
    "_t:2",
    "_tr:2",
)
COMMENT_TAGS: Sequence[str] = ("Translators:",)
WIDTH = 100


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract(source_dir: Path = UI_DIR, mapping_file: Path = MAPPING_FILE) -> Catalog:
    """The template catalog of every translatable string under `source_dir`, in memory."""
    with mapping_file.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, str(mapping_file))
    catalog = Catalog(
        project="depotflow",
        msgid_bugs_address="",
        copyright_holder="depotflow",
        charset="utf-8",
        fuzzy=False,
    )
    keywords = parse_keywords(list(KEYWORDS))
    for filename, lineno, message, comments, context in extract_from_dir(
        str(source_dir),
        method_map,
        options_map,
        keywords=keywords,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        catalog.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN)


def write_catalog(path: Path, catalog: Catalog, *, drop_obsolete: bool = False) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, ignore_obsolete=drop_obsolete, include_previous=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def merge(template: Catalog, locale: str, existing: Catalog | None) -> Catalog:
    """`existing` (or a new catalog) updated to `template`, keeping translations; obsolete entries
    are offered for exact matches again before anything new is fuzzy-matched."""
    if existing is None:
        catalog = Catalog(locale=locale, domain=DOMAIN, project="depotflow", copyright_holder="depotflow", fuzzy=False)
    else:
        catalog = existing
        for key, message in list(catalog.obsolete.items()):
            if message.id and catalog.get(message.id, context=message.context) is None:
                catalog[message.id] = message
            del catalog.obsolete[key]
    # No fuzzy guesses: for short UI strings they were nearly always wrong ("Sections" offered the
    # translation of "Actions"), and a wrong guess is worse than an empty msgstr the test reports.
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    return catalog


def _report(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_extract(_args: argparse.Namespace) -> int:
    template = extract()
    write_catalog(POT_FILE, template, drop_obsolete=True)
    _report(f"{POT_FILE.relative_to(ROOT)}: {sum(1 for m in template if m.id)} messages")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    if not POT_FILE.is_file():
        _report(f"{POT_FILE.relative_to(ROOT)} is missing: run `python scripts/i18n.py extract` first")
        return 1
    template = read_catalog(POT_FILE)
    for locale in args.locales:
        path = po_path(locale)
        existing = read_catalog(path, locale) if path.is_file() else None
        catalog = merge(template, locale, existing)
        write_catalog(path, catalog, drop_obsolete=args.drop_obsolete)
        _report(f"{path.relative_to(ROOT)}: {_summary(catalog)}")
    return 0


def _summary(catalog: Iterable[object]) -> str:
    total = untranslated = fuzzy = 0
    for message in catalog:
        if not getattr(message, "id", None):
            continue
        total += 1
        string = getattr(message, "string", "")
        if not (all(string) if isinstance(string, tuple | list) else string):
            untranslated += 1
        if getattr(message, "fuzzy", False):
            fuzzy += 1
    return f"{total} messages, {untranslated} untranslated, {fuzzy} fuzzy"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract", help="write locale/messages.pot from the UI's Python code and templates")
    update = commands.add_parser("update", help="merge messages.pot into the en and ro catalogs")
    update.add_argument("--locale", dest="locales", action="append", choices=LOCALES, help="only this locale")
    update.add_argument("--drop-obsolete", action="store_true", help="remove entries no longer in the source")
    args = parser.parse_args(argv)
    if args.command == "extract":
        return cmd_extract(args)
    if not args.locales:
        args.locales = list(LOCALES)
    return cmd_update(args)


if __name__ == "__main__":
    raise SystemExit(main())
