"""Completeness of the UI's message catalogs (ui.md §9.1).

The strings are extracted now, in memory, from src/depotflow/ui (Python and templates) with the
same code as `scripts/i18n.py extract`, so a string added to a template or a route without its
Romanian translation fails here, before anyone sees English in a Romanian page.
"""

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message

from depotflow.ui import i18n

ROOT = Path(__file__).resolve().parents[2]
HOW_TO_FIX = (
    "Run `python scripts/i18n.py extract && python scripts/i18n.py update`, then translate the "
    "strings in src/depotflow/ui/locale/ro/LC_MESSAGES/messages.po (terms: locale/GLOSSARY.md) "
    "and remove any `#, fuzzy` flag once the translation is checked."
)
FORBIDDEN_IN_MSGID = ("{{", "${", "/api/")
# %(name)s, %(num)d, %s, %%: everything Python's %-formatting reads.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[a-zA-Z%])")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("depotflow_i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    catalog: Catalog = script.extract()
    return catalog


@pytest.fixture(scope="module")
def ro() -> Catalog:
    catalog: Catalog = script.read_catalog(script.po_path("ro"), "ro")
    return catalog


@pytest.fixture(scope="module")
def en() -> Catalog:
    catalog: Catalog = script.read_catalog(script.po_path("en"), "en")
    return catalog


def messages(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, tuple | list) else (message.id,)


def strings(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, tuple | list) else (message.string or "",)


def describe(message: Message) -> str:
    where = ", ".join(f"{path}:{line}" for path, line in message.locations[:3])
    context = f"[{message.context}] " if message.context else ""
    return f"  {context}{ids(message)[0]!r}" + (f"  ({where})" if where else "")


def fail_with(problem: str, bad: Iterable[str], *, fix: str = HOW_TO_FIX) -> None:
    lines = sorted(bad)
    if lines:
        pytest.fail(f"{problem} ({len(lines)}):\n" + "\n".join(lines) + f"\n\n{fix}", pytrace=False)


def placeholders(text: str) -> list[tuple[str | None, str]]:
    return [(m.group("name"), m.group("type")) for m in PLACEHOLDER.finditer(text) if m.group("type") != "%"]


def named(text: str) -> set[str]:
    return {name for name, _ in placeholders(text) if name is not None}


def test_extraction_finds_the_ui_strings(extracted: Catalog) -> None:
    found = {ids(m)[0] for m in messages(extracted)}
    assert {"Pending", "Quarantine", "Approved"} <= found  # ui/labels.py


def test_every_extracted_string_is_translated_to_romanian(extracted: Catalog, ro: Catalog) -> None:
    bad = []
    for message in messages(extracted):
        entry = ro.get(message.id, context=message.context)
        if entry is None or entry.fuzzy or not all(strings(entry)):
            bad.append(describe(message))
    fail_with("Strings in src/depotflow/ui without a Romanian translation", bad)


def test_every_romanian_entry_has_a_translation(ro: Catalog) -> None:
    fail_with(
        "Romanian catalog entries with an empty msgstr", [describe(m) for m in messages(ro) if not all(strings(m))]
    )


def test_no_fuzzy_romanian_entries(ro: Catalog) -> None:
    fail_with("Fuzzy (unchecked) Romanian entries", [describe(m) for m in messages(ro) if m.fuzzy])


def test_romanian_plural_entries_have_three_forms(ro: Catalog) -> None:
    assert ro.num_plurals == 3
    bad = [describe(m) for m in messages(ro) if isinstance(m.id, tuple | list) and len(strings(m)) != 3]
    fail_with("Romanian plural entries without exactly three forms", bad)


@pytest.mark.parametrize("source", ["extracted", "ro", "en"])
def test_no_code_in_msgids(source: str, request: pytest.FixtureRequest) -> None:
    catalog: Catalog = request.getfixturevalue(source)
    bad = [describe(m) for m in messages(catalog) if any(f in msgid for msgid in ids(m) for f in FORBIDDEN_IN_MSGID)]
    fail_with(
        f"msgids ({source}) containing template or API code ({', '.join(FORBIDDEN_IN_MSGID)})",
        bad,
        fix="Pass values as variables (`_('Order %(ref)s', ref=...)`, `{% trans ref=... %}`) and keep URLs out of "
        "translatable text.",
    )


@pytest.mark.parametrize("source", ["extracted", "ro", "en"])
def test_msgids_are_newstyle_format_strings(source: str, request: pytest.FixtureRequest) -> None:
    # Templates and i18n.translate() always %-format with keyword variables: a positional `%s`
    # cannot be filled, and a lone `%` must be written `%%` in Python code.
    catalog: Catalog = request.getfixturevalue(source)
    bad = []
    for message in messages(catalog):
        for text in ids(message):
            unnamed = [p for p in placeholders(text) if p[0] is None]
            stray = re.sub(r"%%", "", PLACEHOLDER.sub("", text))
            if unnamed or "%" in stray:
                bad.append(describe(message))
    fail_with(
        f"msgids ({source}) with positional or broken %-placeholders",
        bad,
        fix="Use named placeholders `%(name)s` and write a literal percent sign as `%%` in Python strings.",
    )


def test_placeholders_match_between_msgid_and_msgstr(ro: Catalog) -> None:
    bad = []
    for message in messages(ro):
        source = set().union(*(named(text) for text in ids(message)))
        forms = [named(text) for text in strings(message) if text]
        if isinstance(message.id, tuple | list):
            # A plural form may leave out the count (`un lot`), but never invent a placeholder,
            # and every placeholder appears in some form.
            ok = all(form <= source for form in forms) and set().union(*forms) == source
        else:
            ok = all(form == source for form in forms)
        positional = any(p[0] is None for text in strings(message) for p in placeholders(text))
        if not ok or positional:
            bad.append(describe(message) + f" -> {strings(message)!r}")
    fail_with(
        "Romanian translations whose %(name)s placeholders differ from the msgid",
        bad,
        fix="Keep every %(name)s placeholder of the msgid, spelled the same, in the translation.",
    )


def test_romanian_uses_comma_below_letters(ro: Catalog) -> None:
    cedilla = "şţŞŢ"
    bad = [describe(m) for m in messages(ro) if any(c in text for text in strings(m) for c in cedilla)]
    fail_with("Romanian translations with cedilla ş/ţ instead of comma-below ș/ț", bad, fix="Use ș ț Ș Ț (U+0219 ...).")


def test_the_running_ui_reads_the_same_translations(extracted: Catalog, ro: Catalog) -> None:
    i18n.clear_cache()
    runtime = i18n.get_translations("ro")
    bad = []
    for message in messages(extracted):
        entry = ro.get(message.id, context=message.context)
        if entry is None or isinstance(message.id, tuple | list):
            continue
        shown = runtime.pgettext(message.context, message.id) if message.context else runtime.gettext(message.id)
        if shown != entry.string:
            bad.append(describe(message) + f" -> {shown!r}")
    fail_with("Strings the running UI translates differently from the catalog file", bad)


def test_extraction_config_reads_templates_and_python(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "pages"
    templates.mkdir(parents=True)
    (templates / "x.html").write_text(
        "{% extends 'base.html' %}{% block content %}\n"
        "{% trans %}\n  Receive\n  lot\n{% endtrans %}\n"
        "{% trans name=user.name %}Hello {{ name }}{% endtrans %}\n"
        "{% trans count=n %}{{ count }} line{% pluralize %}{{ count }} lines{% endtrans %}\n"
        '{{ _("Save") }} {{ pgettext("button", "Open") }} {{ ngettext("%(num)s file", "%(num)s files", 2) }}\n'
        "{{ some_variable }} {{ '/api/not-extracted' }}\n"
        "{% endblock %}\n",
        encoding="utf-8",
    )
    (tmp_path / "routes.py").write_text(
        'from x import _, pgettext\nA = _("Order %(ref)s issued")\nB = pgettext("state", "Open")\nC = f"{1}"\n',
        encoding="utf-8",
    )
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.js").write_text('_("not extracted")\n', encoding="utf-8")
    catalog: Catalog = script.extract(tmp_path, script.MAPPING_FILE)
    found = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in messages(catalog)}
    assert found == {
        (None, "Receive lot"),  # trimmed, as rendered
        (None, "Hello %(name)s"),
        (None, ("%(count)s line", "%(count)s lines")),
        (None, "Save"),
        ("button", "Open"),
        (None, ("%(num)s file", "%(num)s files")),
        (None, "Order %(ref)s issued"),
        ("state", "Open"),
    }


def test_update_keeps_translations_and_revives_obsolete_ones() -> None:
    existing = Catalog(locale="ro", domain="messages")
    existing.add("Save", "Salvează")
    existing.add("Gone", "Dispărut")
    existing.obsolete["Sign in"] = Message("Sign in", "Autentificare")
    template = Catalog()
    template.add("Save", locations=[("templates/a.html", 1)])
    template.add("Sign in", locations=[("templates/b.html", 2)])
    template.add("Something else entirely")
    merged = script.merge(template, "ro", existing)
    assert merged.get("Save").string == "Salvează"
    revived = merged.get("Sign in")
    assert revived.string == "Autentificare"
    assert not revived.fuzzy
    assert revived.locations == [("templates/b.html", 2)]
    assert not merged.get("Something else entirely").string
    assert "Gone" in merged.obsolete


def test_update_never_guesses_in_the_source_language() -> None:
    existing = Catalog(locale="en", domain="messages")
    existing.add("Sign in now", "")
    template = Catalog()
    template.add("Sign in now!")
    merged = script.merge(template, "en", existing)
    assert not merged.get("Sign in now!").fuzzy
