"""Locale negotiation, catalogs, per-request gettext in one shared environment, the formatting
filters in both languages, and strict decimal input (ui.md §9)."""

import datetime as dt
from decimal import Decimal
from typing import Any

import jinja2
import pytest
from babel.messages.catalog import Catalog
from markupsafe import Markup

from depotflow.ui import i18n

UTC = dt.UTC
BUCHAREST = "Europe/Bucharest"


@pytest.fixture
def env() -> jinja2.Environment:
    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        loader=jinja2.DictLoader(
            {
                "macros.html": '{% macro save() %}{{ _("Save") }} {{ 1234.5|decimal }}{% endmacro %}',
                "page.html": '{% import "macros.html" as m %}{{ m.save() }}',
                "page_ctx.html": '{% import "macros.html" as m with context %}{{ m.save() }}',
            }
        ),
    )
    i18n.install(environment)
    return environment


def context(locale: str, tz: str = BUCHAREST, **extra: Any) -> dict[str, Any]:
    return {"locale": locale, "tz": tz, **i18n.gettext_callables(locale), **extra}


def render(env: jinja2.Environment, source: str, locale: str, tz: str = BUCHAREST, **extra: Any) -> str:
    return env.from_string(source).render(context(locale, tz, **extra))


# --- Negotiation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "cookie", "accept", "default", "expected"),
    [
        ("ro", "en", "en-GB", "en", "ro"),  # the profile wins
        (None, "ro", "en-GB,en;q=0.9", "en", "ro"),  # then the cookie
        ("de", "ro", None, "en", "ro"),  # an unsupported profile value is skipped
        (None, None, "ro-RO,ro;q=0.9,en;q=0.8", "en", "ro"),
        (None, None, "en-GB", "ro", "en"),
        (None, None, "de-DE,fr;q=0.9,ro;q=0.5,en;q=0.4", "en", "ro"),  # first supported by q-value
        (None, None, "en;q=0.3, ro;q=0.8", "en", "ro"),  # q-values, not header order
        (None, None, "ro;q=0, en;q=0.1", "ro", "en"),  # q=0 means "not this one"
        (None, None, "ro;q=abc, en", "ro", "en"),  # a malformed q-value counts as 0
        (None, None, "*", "ro", "ro"),
        (None, None, "de, fr", "ro", "ro"),
        (None, None, "", "ro", "ro"),
        (None, None, None, "en", "en"),
        ("", "", None, "ro", "ro"),
        (None, "RO_ro", None, "en", "ro"),
        (None, None, None, "xx", "en"),  # an unusable default still gives a supported locale
    ],
)
def test_negotiate(profile: str | None, cookie: str | None, accept: str | None, default: str, expected: str) -> None:
    assert i18n.negotiate(profile=profile, cookie=cookie, accept_language=accept, default=default) == expected


def test_accept_language_order_is_stable_for_equal_q() -> None:
    assert i18n.parse_accept_language("fr-CH, fr;q=0.9, en;q=0.9, de;q=0.7, *;q=0.5") == ["fr-CH", "fr", "en", "de"]


def test_locale_names() -> None:
    assert i18n.SUPPORTED_LOCALES == ("en", "ro")
    assert i18n.LOCALE_NAMES == {"en": "English", "ro": "Română"}


# --- Catalogs ------------------------------------------------------------------------------------


def test_catalogs_are_read_from_po_files() -> None:
    ro = i18n.get_translations("ro")
    assert ro.gettext("Sign in") == "Autentificare"
    assert i18n.get_translations("ro") is ro  # cached per process
    assert i18n.get_translations("en").gettext("Sign in") == "Sign in"  # empty msgstr -> msgid
    assert ro.gettext("Not in any catalog") == "Not in any catalog"
    with pytest.raises(ValueError, match="unsupported locale"):
        i18n.get_translations("de")


def test_translations_plurals_context_and_fallbacks() -> None:
    catalog = Catalog(locale="ro")
    catalog.add(("%(num)s lot", "%(num)s lots"), ("%(num)s lot", "%(num)s loturi", "%(num)s de loturi"))
    catalog.add("Open", "Deschide", context="verb")
    catalog.add("Open", "Deschis", context="state")
    catalog.add("Half done", "Pe jumătate", flags=["fuzzy"])
    catalog.add("Empty", "")
    catalog.add(("%(num)s file", "%(num)s files"), ("", "", ""))
    tr = i18n.Translations(catalog)
    assert [tr.ngettext("%(num)s lot", "%(num)s lots", n) for n in (1, 2, 0, 25, 101)] == [
        "%(num)s lot",
        "%(num)s loturi",
        "%(num)s loturi",
        "%(num)s de loturi",
        "%(num)s loturi",
    ]
    assert tr.pgettext("verb", "Open") == "Deschide"
    assert tr.pgettext("state", "Open") == "Deschis"
    assert tr.gettext("Open") == "Open"  # no context, no entry
    assert tr.npgettext("x", "%(num)s lot", "%(num)s lots", 2) == "%(num)s lots"
    assert tr.gettext("Half done") == "Half done"  # fuzzy entries are not used
    assert tr.gettext("Empty") == "Empty"
    assert tr.ngettext("%(num)s file", "%(num)s files", 3) == "%(num)s files"
    assert i18n.Translations().ngettext("a", "b", 1) == "a"


def test_translate_for_python_code() -> None:
    assert i18n.translate("ro", "Signed in as %(name)s", name="<Ana>") == "Autentificat ca <Ana>"
    assert i18n.translate("en", "Signed in as %(name)s", name="Ana") == "Signed in as Ana"


def test_gettext_callables_called_from_python_return_plain_text() -> None:
    ro = i18n.gettext_callables("ro")
    assert set(ro) >= {"_", "gettext", "ngettext", "pgettext", "npgettext"}
    text = ro["gettext"]("Signed in as %(name)s", name="<b>")
    assert text == "Autentificat ca <b>"
    assert not isinstance(text, Markup)
    assert ro["ngettext"]("%(num)s result", "%(num)s results", 25) == "25 de rezultate"
    with pytest.raises(ValueError, match="unsupported locale"):
        i18n.gettext_callables("de")


# --- Per-request gettext in one shared environment ----------------------------------------------


def test_trans_and_underscore_follow_the_request_locale(env: jinja2.Environment) -> None:
    template = env.from_string('{% trans %}Sign in{% endtrans %}|{{ _("Sign in") }}|{{ gettext("Sign out") }}')
    assert template.render(context("ro")) == "Autentificare|Autentificare|Deconectare"
    assert template.render(context("en")) == "Sign in|Sign in|Sign out"
    assert template.render(context("ro")) == "Autentificare|Autentificare|Deconectare"


def test_trans_is_trimmed_like_the_extraction(env: jinja2.Environment) -> None:
    source = "{% trans %}\n    Sign\n    in\n{% endtrans %}"
    assert render(env, source, "ro") == "Autentificare"


def test_newstyle_variables_are_escaped(env: jinja2.Environment) -> None:
    source = '{% trans name=who %}Signed in as {{ name }}{% endtrans %}|{{ _("Signed in as %(name)s", name=who) }}'
    assert render(env, source, "ro", who="<b>Ana</b>") == (
        "Autentificat ca &lt;b&gt;Ana&lt;/b&gt;|Autentificat ca &lt;b&gt;Ana&lt;/b&gt;"
    )


def test_plural_trans_block_and_ngettext(env: jinja2.Environment) -> None:
    source = '{{ ngettext("%(num)s result", "%(num)s results", n) }}'
    assert [render(env, source, "ro", n=n) for n in (1, 3, 20)] == ["1 rezultat", "3 rezultate", "20 de rezultate"]
    assert render(env, source, "en", n=1) == "1 result"
    block = "{% trans count=n %}{{ count }} lot{% pluralize %}{{ count }} lots{% endtrans %}"
    assert render(env, block, "en", n=2) == "2 lots"


def test_literal_percent_in_trans_block(env: jinja2.Environment) -> None:
    assert render(env, "{% trans %}100% done{% endtrans %}", "ro") == "100% done"


def test_globals_follow_the_context_locale_without_callables(env: jinja2.Environment) -> None:
    template = env.from_string('{% trans %}Sign in{% endtrans %}|{{ _("Save") }}')
    assert template.render(locale="ro", tz="UTC") == "Autentificare|Salvează"
    assert template.render(locale="en", tz="UTC") == "Sign in|Save"
    assert template.render() == "Sign in|Save"  # neither context nor activate(): the source language


def test_imported_macros_use_activate_or_with_context(env: jinja2.Environment) -> None:
    # Imported without context, a macro sees only globals: the renderer wraps renders in activate().
    assert env.get_template("page_ctx.html").render(context("ro")) == "Salvează 1.234,5"
    assert env.get_template("page.html").render(context("ro")) == "Save 1,234.5"
    with i18n.activate("ro", BUCHAREST):
        assert env.get_template("page.html").render(context("ro")) == "Salvează 1.234,5"
    assert env.get_template("page.html").render(context("ro")) == "Save 1,234.5"


# --- Filters -------------------------------------------------------------------------------------

WINTER = dt.datetime(2026, 11, 23, 12, 5, 30, 123456, tzinfo=UTC)  # EET, UTC+2
SUMMER = dt.datetime(2026, 7, 1, 21, 30, tzinfo=UTC)  # EEST, UTC+3: already 2 July in Bucharest


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("ro", "23.11.2026"), ("en", "23/11/2026")],
)
def test_date_filter(env: jinja2.Environment, locale: str, expected: str) -> None:
    assert render(env, "{{ d|date }}", locale, d=dt.date(2026, 11, 23)) == expected
    assert render(env, "{{ t|date }}", locale, t=WINTER) == expected


def test_date_filter_prose_format(env: jinja2.Environment) -> None:
    assert render(env, '{{ d|date("medium") }}', "en", d=dt.date(2026, 11, 23)) == "23 Nov 2026"
    assert render(env, '{{ d|date("medium") }}', "ro", d=dt.date(2026, 11, 23)) == "23 nov. 2026"


def test_datetime_filter_converts_to_the_time_zone(env: jinja2.Environment) -> None:
    assert render(env, "{{ t|datetime }}", "ro", t=WINTER) == "23.11.2026 14:05"
    assert render(env, "{{ t|datetime }}", "en", t=WINTER) == "23/11/2026 14:05"
    assert render(env, "{{ t|datetime }}", "ro", t=SUMMER) == "02.07.2026 00:30"  # DST: UTC+3
    assert render(env, "{{ t|date }}", "ro", t=SUMMER) == "02.07.2026"
    assert render(env, "{{ t|datetime }}", "ro", tz="UTC", t=SUMMER) == "01.07.2026 21:30"


def test_datetime_across_the_dst_change() -> None:
    # Bucharest leaves summer time on 25 October 2026 at 04:00 local (01:00 UTC).
    before = dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    after = dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert i18n.format_datetime(before, locale="ro", tz=BUCHAREST) == "25.10.2026 03:30"
    assert i18n.format_datetime(after, locale="ro", tz=BUCHAREST) == "25.10.2026 03:30"
    # and enters it on 29 March 2026 at 03:00 local (01:00 UTC)
    spring = dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert i18n.format_datetime(spring, locale="en", tz=BUCHAREST) == "29/03/2026 04:00"


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = dt.datetime(2026, 11, 23, 12, 5)
    assert i18n.format_datetime(naive, locale="ro", tz=BUCHAREST) == "23.11.2026 14:05"


def test_time_tag(env: jinja2.Environment) -> None:
    assert render(env, "{{ t|time_tag }}", "ro", t=WINTER) == (
        '<time datetime="2026-11-23T12:05:30Z" title="2026-11-23T12:05:30Z">23.11.2026 14:05</time>'
    )
    assert render(env, "{{ t|time_tag }}", "en", t=SUMMER) == (
        '<time datetime="2026-07-01T21:30:00Z" title="2026-07-01T21:30:00Z">02/07/2026 00:30</time>'
    )
    assert render(env, "{{ d|time_tag }}", "ro", d=dt.date(2026, 11, 23)) == (
        '<time datetime="2026-11-23">23.11.2026</time>'
    )
    aware = dt.datetime(2026, 11, 23, 14, 5, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert i18n.time_tag(aware, locale="ro", tz="UTC") == Markup(
        '<time datetime="2026-11-23T12:05:30Z" title="2026-11-23T12:05:30Z">23.11.2026 12:05</time>'
    )


def test_none_values_render_empty(env: jinja2.Environment) -> None:
    source = '[{{ v|date }}{{ v|datetime }}{{ v|time_tag }}{{ v|decimal }}{{ v|quantity("kg") }}{{ v|money("EUR") }}{{ v|relative }}]'
    assert render(env, source, "ro", v=None) == "[]"


@pytest.mark.parametrize(
    ("value", "places", "ro", "en"),
    [
        (Decimal("1234.56"), None, "1.234,56", "1,234.56"),
        (Decimal("1250.000"), None, "1.250,000", "1,250.000"),  # the Decimal's own precision
        (Decimal("0.5"), None, "0,5", "0.5"),
        (Decimal("-1234567.8"), None, "-1.234.567,8", "-1,234,567.8"),
        (Decimal("1234"), None, "1.234", "1,234"),
        (Decimal("1E+3"), None, "1.000", "1,000"),
        (1234, None, "1.234", "1,234"),
        (0.1, None, "0,1", "0.1"),
        (Decimal("2.5"), 3, "2,500", "2.500"),
        (Decimal("2.345"), 2, "2,34", "2.34"),  # half-even
        (Decimal("12.5"), 0, "12", "12"),
    ],
)
def test_decimal_filter(
    env: jinja2.Environment, value: Decimal | int | float, places: int | None, ro: str, en: str
) -> None:
    source = "{{ v|decimal }}" if places is None else "{{ v|decimal(places=p) }}"
    assert render(env, source, "ro", v=value, p=places) == ro
    assert render(env, source, "en", v=value, p=places) == en


def test_quantity_filter(env: jinja2.Environment) -> None:
    assert render(env, '{{ q|quantity("kg") }}', "ro", q=Decimal("1250.000")) == "1.250,000 kg"
    assert render(env, '{{ q|quantity("kg") }}', "en", q=Decimal("1250.000")) == "1,250.000 kg"
    assert render(env, '{{ q|quantity("pcs", places=0) }}', "ro", q=Decimal("12.000")) == "12 pcs"
    assert render(env, '{{ q|quantity("") }}', "ro", q=Decimal("3.5")) == "3,5"


@pytest.mark.parametrize(
    ("value", "currency", "locale", "expected"),
    [
        (Decimal("1234.5"), "EUR", "ro", "1.234,50\u00a0EUR"),
        (Decimal("1234.5"), "RON", "ro", "1.234,50\u00a0RON"),
        (Decimal("1234.5"), "EUR", "en", "€1,234.50"),
        (Decimal("1234.5"), "RON", "en", "RON\u00a01,234.50"),
        (Decimal("-7"), "RON", "en", "-RON\u00a07.00"),
        (Decimal("1234.567"), "EUR", "ro", "1.234,57\u00a0EUR"),  # the currency's precision
        (Decimal("1234"), "JPY", "ro", "1.234\u00a0JPY"),
        (Decimal("1.5"), "BHD", "en", "BHD\u00a01.500"),
    ],
)
def test_money_filter(env: jinja2.Environment, value: Decimal, currency: str, locale: str, expected: str) -> None:
    assert render(env, "{{ v|money(c) }}", locale, v=value, c=currency) == expected


def test_relative_filter(env: jinja2.Environment) -> None:
    now = dt.datetime(2026, 11, 23, 15, 5, tzinfo=UTC)
    three_hours_ago = dt.datetime(2026, 11, 23, 12, 5, tzinfo=UTC)
    assert render(env, "{{ t|relative(now=now) }}", "en", t=three_hours_ago, now=now) == "3 hours ago"
    assert render(env, "{{ t|relative(now=now) }}", "ro", t=three_hours_ago, now=now) == "acum 3 ore"
    in_two_days = now + dt.timedelta(days=2)
    assert render(env, "{{ t|relative(now=now) }}", "en", t=in_two_days, now=now) == "in 2 days"
    assert render(env, "{{ t|relative(now=now) }}", "ro", t=in_two_days, now=now) == "peste 2 zile"


def test_relative_defaults_to_now() -> None:
    recent = dt.datetime.now(UTC) - dt.timedelta(hours=3, minutes=1)
    assert i18n.format_relative(recent, locale="en", tz="UTC") == "3 hours ago"


def test_filters_use_activate_when_the_context_has_no_locale(env: jinja2.Environment) -> None:
    template = env.from_string("{{ v|decimal }} {{ t|datetime }}")
    assert template.render(v=Decimal("1.5"), t=WINTER) == "1.5 23/11/2026 12:05"
    with i18n.activate("ro", BUCHAREST):
        assert template.render(v=Decimal("1.5"), t=WINTER) == "1,5 23.11.2026 14:05"


# --- Decimal input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("1,5", "ro", Decimal("1.5")),
        ("1.234,56", "ro", Decimal("1234.56")),
        ("1234,5", "ro", Decimal("1234.5")),
        ("1.234", "ro", Decimal("1234")),  # grouping in ro: one thousand two hundred thirty-four
        ("1,234", "ro", Decimal("1.234")),
        ("1.234.567,8", "ro", Decimal("1234567.8")),
        ("  12,50 ", "ro", Decimal("12.50")),
        ("-3", "ro", Decimal("-3")),
        ("0", "ro", Decimal("0")),
        ("12.5", "en", Decimal("12.5")),
        ("1,234.56", "en", Decimal("1234.56")),
        ("1.234", "en", Decimal("1.234")),  # decimal point in en
        ("1,234", "en", Decimal("1234")),
        ("1250.000", "en", Decimal("1250.000")),
        (".5", "en", Decimal("0.5")),
    ],
)
def test_parse_decimal_input(text: str, locale: str, expected: Decimal) -> None:
    parsed = i18n.parse_decimal_input(text, locale)
    assert parsed == expected
    assert str(parsed) == str(expected)  # the typed precision is kept


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("12.5", "ro"),  # a dot-decimal in ro is not guessed
        ("12.50", "ro"),
        ("1.2345", "ro"),
        ("1,234.56", "ro"),
        ("1,5", "en"),  # a comma-decimal in en is not guessed
        ("1.234,56", "en"),
        ("1234,5", "en"),
        ("1,2,3", "en"),
        ("1 234,5", "ro"),
        ("abc", "ro"),
        ("NaN", "en"),
        ("Infinity", "ro"),
        ("1e5", "en"),
        ("12kg", "ro"),
        ("--1", "en"),
    ],
)
def test_parse_decimal_input_refuses(text: str, locale: str) -> None:
    with pytest.raises(ValueError, match=r"^decimal\.invalid$"):
        i18n.parse_decimal_input(text, locale)


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_parse_decimal_input_required(text: str) -> None:
    with pytest.raises(ValueError, match=r"^decimal\.required$"):
        i18n.parse_decimal_input(text, "ro")


def test_parse_and_format_round_trip() -> None:
    for locale in i18n.SUPPORTED_LOCALES:
        for value in (Decimal("1234.56"), Decimal("0.001"), Decimal("-98765.4321"), Decimal("1250.000")):
            assert i18n.parse_decimal_input(i18n.format_decimal(value, locale=locale), locale) == value
