"""Languages and formats of the browser UI (ui.md §9).

- `negotiate()` picks the request's locale: profile, `lang` cookie, `Accept-Language`, default.
- Catalogs are the `.po` files under `locale/{en,ro}/LC_MESSAGES/messages.po`, read at run time
  with Babel (no compiled `.mo`, no build step) and cached per process.
- One Jinja environment serves every language. `install(env)` turns on newstyle gettext, trimmed
  `{% trans %}` blocks and the formatting filters. The locale and time zone of a render come from
  the template context (`locale`, `tz`), which the renderer fills per request together with
  `gettext_callables(locale)`. Macros imported without context (`{% import "x.html" as x %}`) do
  not see the render context; for them the installed globals and the filters fall back to the
  values set with `activate(locale, tz)`, then to English and UTC.
- `parse_decimal_input()` reads a number typed in the page's locale, strictly (never guessed).
"""

import contextlib
import datetime as dt
import gettext as _gettext
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from jinja2.runtime import Context
from markupsafe import Markup

SUPPORTED_LOCALES: Final = ("en", "ro")
LOCALE_NAMES: Final[Mapping[str, str]] = {"en": "English", "ro": "Română"}
# The language of the msgids: its catalog may leave msgstr empty.
SOURCE_LOCALE: Final = "en"
# Used only when neither the render context nor `activate()` says which zone to show.
FALLBACK_TZ: Final = "UTC"
# The Babel (CLDR) locale behind each UI language: English is day-month (en_GB), never US order.
BABEL_LOCALES: Final[Mapping[str, str]] = {"en": "en_GB", "ro": "ro_RO"}

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"

GettextCallable = Callable[..., str]


# --- Negotiation ---------------------------------------------------------------------------------


def normalize_locale(value: str | None) -> str | None:
    """The supported UI language named by a tag such as `ro`, `ro-RO`, `ro_RO` or `EN-gb`, else None."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    return primary if primary in SUPPORTED_LOCALES else None


def parse_accept_language(header: str | None) -> list[str]:
    """The language tags of an `Accept-Language` header, most preferred first.

    Entries with `q=0` or a malformed q-value are dropped; equal q-values keep the header's order;
    `*` is dropped (it names no language).
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        parts = [p.strip() for p in item.split(";")]
        tag = parts[0]
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in parts[1:]:
            name, _, raw = param.partition("=")
            if name.strip().lower() != "q":
                continue
            try:
                quality = float(raw.strip())
            except ValueError:
                quality = 0.0
            if not 0.0 <= quality <= 1.0:
                quality = 0.0
        if quality > 0.0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(*, profile: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    """The request's UI language: the first supported of the user's profile setting, the `lang`
    cookie, the `Accept-Language` header (by q-value), then `default`."""
    for candidate in (profile, cookie):
        found = normalize_locale(candidate)
        if found is not None:
            return found
    for tag in parse_accept_language(accept_language):
        found = normalize_locale(tag)
        if found is not None:
            return found
    return normalize_locale(default) or SOURCE_LOCALE


# --- Catalogs ------------------------------------------------------------------------------------


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translations:
    """Lookups in one language's catalog. Missing, empty and fuzzy entries give the msgid back
    (the singular or plural source form by the English rule), so an untranslated string shows in
    English rather than empty."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._messages: dict[tuple[str | None, str], str | tuple[str, ...]] = {}
        self._plural: Callable[[int], int] = _gettext.c2py("(n != 1)")
        if catalog is None:
            return
        self._plural = _gettext.c2py(catalog.plural_expr)
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
            string = message.string
            if isinstance(string, tuple | list):
                if any(string):
                    self._messages[(message.context, msgid)] = tuple(string)
            elif string:
                self._messages[(message.context, msgid)] = string

    @classmethod
    def load(cls, path: Path) -> "Translations":
        with path.open("rb") as fileobj:
            return cls(read_po(fileobj, domain=DOMAIN, ignore_obsolete=True))

    def __contains__(self, msgid: object) -> bool:
        return (None, msgid) in self._messages

    def _singular(self, context: str | None, message: str) -> str:
        found = self._messages.get((context, message))
        if isinstance(found, tuple):
            found = found[0]
        return found or message

    def _plural_form(self, context: str | None, singular: str, plural: str, num: int) -> str:
        found = self._messages.get((context, singular))
        if isinstance(found, tuple):
            index = self._plural(num)
            if 0 <= index < len(found) and found[index]:
                return found[index]
        return singular if num == 1 else plural

    def gettext(self, message: str) -> str:
        return self._singular(None, message)

    def ngettext(self, singular: str, plural: str, num: int) -> str:
        return self._plural_form(None, singular, plural, num)

    def pgettext(self, context: str, message: str) -> str:
        return self._singular(context, message)

    def npgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        return self._plural_form(context, singular, plural, num)


@cache
def get_translations(locale: str) -> Translations:
    """The catalog of a supported locale, read once per process (`clear_cache()` re-reads)."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale: {locale!r}")
    path = catalog_path(locale)
    if not path.is_file():
        return Translations()
    return Translations.load(path)


def clear_cache() -> None:
    get_translations.cache_clear()


def translate(locale: str, message: str, **variables: Any) -> str:
    """A message in `locale` as plain text, `%(name)s` placeholders filled (for Python code, e.g.
    flash messages; templates use `_()` / `{% trans %}`)."""
    return get_translations(locale).gettext(message) % variables


# --- Current locale for renders that cannot see the context --------------------------------------

_active: ContextVar[tuple[str, str] | None] = ContextVar("depotflow_ui_locale", default=None)


@contextlib.contextmanager
def activate(locale: str, tz: str) -> Iterator[None]:
    """Make `locale` and `tz` the fallback of the installed globals and filters for code that runs
    inside the block (macros imported without context)."""
    token = _active.set((locale, tz))
    try:
        yield
    finally:
        _active.reset(token)


def _context_locale(context: Context | None) -> str:
    value = context.get("locale") if context is not None else None
    if isinstance(value, str) and value in SUPPORTED_LOCALES:
        return value
    active = _active.get()
    return active[0] if active is not None else SOURCE_LOCALE


def _context_tz(context: Context | None) -> str:
    value = context.get("tz") if context is not None else None
    if isinstance(value, str) and value:
        return value
    active = _active.get()
    return active[1] if active is not None else FALLBACK_TZ


# --- Newstyle gettext callables ------------------------------------------------------------------


def _split(args: tuple[Any, ...]) -> tuple[Context | None, tuple[Any, ...]]:
    """Jinja passes the render context first (the callables are `pass_context`); Python callers
    do not."""
    if args and isinstance(args[0], Context):
        return args[0], args[1:]
    return None, args


def _finish(context: Context | None, text: str, variables: Mapping[str, Any]) -> str:
    # Like jinja2.ext's newstyle gettext: always a format string; in an autoescaping render the
    # translation is trusted markup and the variables are escaped into it.
    if context is not None and context.eval_ctx.autoescape:
        return Markup(text) % variables
    return text % variables


def _make_callables(locale_of: Callable[[Context | None], str]) -> dict[str, GettextCallable]:
    @jinja2.pass_context
    def gettext(*args: Any, **variables: Any) -> str:
        context, (message,) = _split(args)
        return _finish(context, get_translations(locale_of(context)).gettext(message), variables)

    @jinja2.pass_context
    def ngettext(*args: Any, **variables: Any) -> str:
        context, (singular, plural, num) = _split(args)
        variables.setdefault("num", num)
        text = get_translations(locale_of(context)).ngettext(singular, plural, num)
        return _finish(context, text, variables)

    @jinja2.pass_context
    def pgettext(*args: Any, **variables: Any) -> str:
        context, (msgctxt, message) = _split(args)
        variables.setdefault("context", msgctxt)
        return _finish(context, get_translations(locale_of(context)).pgettext(msgctxt, message), variables)

    @jinja2.pass_context
    def npgettext(*args: Any, **variables: Any) -> str:
        context, (msgctxt, singular, plural, num) = _split(args)
        variables.setdefault("context", msgctxt)
        variables.setdefault("num", num)
        text = get_translations(locale_of(context)).npgettext(msgctxt, singular, plural, num)
        return _finish(context, text, variables)

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "pgettext": pgettext, "npgettext": npgettext}


def gettext_callables(locale: str) -> dict[str, GettextCallable]:
    """`_`, `gettext`, `ngettext`, `pgettext`, `npgettext` bound to `locale`, for the render context.

    Newstyle semantics as jinja2.ext: `_("Hello %(name)s", name=user)`, autoescape-safe in
    templates (the result is Markup, variables escaped), `%%` for a literal percent sign.
    `{% trans %}` blocks call the context's `gettext`/`ngettext`/`pgettext`, so they follow too.
    Called from Python (no Jinja context) they return plain `str`.
    """
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale: {locale!r}")
    return _make_callables(lambda _context: locale)


# --- Formats -------------------------------------------------------------------------------------

DateLike = dt.date | dt.datetime


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get(locale, BABEL_LOCALES[SOURCE_LOCALE])


def to_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values are taken as UTC (how they are stored)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def to_local(value: dt.datetime, tz: str) -> dt.datetime:
    return to_utc(value).astimezone(ZoneInfo(tz))


def iso_utc(value: dt.datetime) -> str:
    """`2026-11-23T12:05:00Z`."""
    return to_utc(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def format_date(value: DateLike | None, *, locale: str, tz: str, format: str = "short") -> str:
    """Ro `23.11.2026`, en `23/11/2026`; `format="medium"` for prose (`23 Nov 2026`). A datetime is
    shown as its date in `tz`."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value, tz).date()
    return babel_dates.format_date(value, format, locale=babel_locale(locale))


def format_datetime(value: dt.datetime | None, *, locale: str, tz: str) -> str:
    """The date and `HH:mm` in `tz`: ro `23.11.2026 14:05`, en `23/11/2026 14:05`."""
    if value is None:
        return ""
    local = to_local(value, tz)
    day = babel_dates.format_date(local.date(), "short", locale=babel_locale(locale))
    return f"{day} {babel_dates.format_time(local, 'HH:mm', locale=babel_locale(locale))}"


def time_tag(value: DateLike | None, *, locale: str, tz: str) -> Markup:
    """`<time datetime="2026-11-23T12:05:00Z" title="2026-11-23T12:05:00Z">23.11.2026 14:05</time>`;
    a plain date gives `<time datetime="2026-11-23">23.11.2026</time>`."""
    if value is None:
        return Markup("")
    if isinstance(value, dt.datetime):
        iso = iso_utc(value)
        shown = format_datetime(value, locale=locale, tz=tz)
        return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(iso, shown)
    return Markup('<time datetime="{0}">{1}</time>').format(value.isoformat(), format_date(value, locale=locale, tz=tz))


def _as_decimal(value: Decimal | int | float | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _places_of(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_decimal(value: Decimal | int | float | str | None, *, locale: str, places: int | None = None) -> str:
    """Grouped in the locale (ro `1.234,56`, en `1,234.56`), with the value's own decimal places
    (`Decimal("1250.000")` keeps three) unless `places` is given (then rounded half-even)."""
    if value is None:
        return ""
    number = _as_decimal(value)
    if not number.is_finite():
        return str(number)
    digits = _places_of(number) if places is None else places
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(number, format=pattern, locale=babel_locale(locale))


def format_quantity(
    value: Decimal | int | float | str | None, unit: str | None, *, locale: str, places: int | None = None
) -> str:
    """A number with its unit: ro `1.250,000 kg`."""
    if value is None:
        return ""
    number = format_decimal(value, locale=locale, places=places)
    return f"{number} {unit}" if unit else number


def format_money(value: Decimal | int | float | str | None, currency: str, *, locale: str) -> str:
    """`format_currency` with the currency's own precision: ro `1.234,50 RON`, en `€1,234.50`,
    en `RON 1,234.50` (a letter symbol is kept apart from the digits, CLDR currency spacing)."""
    if value is None:
        return ""
    babel = babel_locale(locale)
    text = babel_numbers.format_currency(_as_decimal(value), currency, locale=babel, currency_digits=True)
    symbol = babel_numbers.get_currency_symbol(currency, locale=babel)
    if symbol and symbol[-1].isalpha():
        text = re.sub(rf"({re.escape(symbol)})(?=\d)", "\\1\u00a0", text, count=1)
    if symbol and symbol[0].isalpha():
        text = re.sub(rf"(?<=\d)({re.escape(symbol)})", "\u00a0\\1", text, count=1)
    return text


def format_relative(value: DateLike | None, *, locale: str, tz: str, now: dt.datetime | None = None) -> str:
    """`3 hours ago` / `acum 3 ore`, `in 2 days` / `peste 2 zile`. Shown beside an absolute time,
    never alone (ui.md §9.2)."""
    if value is None:
        return ""
    moment = (
        to_utc(value) if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time(), tzinfo=ZoneInfo(tz))
    )
    reference = to_utc(now) if now is not None else dt.datetime.now(dt.UTC)
    return babel_dates.format_timedelta(moment - reference, add_direction=True, locale=babel_locale(locale))


# --- Parsing -------------------------------------------------------------------------------------

_NUMBER_CHARS = re.compile(r"[+-]?[0-9.,]+")


def parse_decimal_input(text: str, locale: str) -> Decimal:
    """A number typed in `locale`, parsed strictly: ro `1.234,5` = 1234.5 and `1.234` = 1234; en
    `1,234.5` = 1234.5 and `1.234` = 1.234. Anything the locale's grouping does not allow (ro
    `12.5`, en `1,5`) is refused, never guessed.

    Raises `ValueError("decimal.required")` for an empty entry and `ValueError("decimal.invalid")`
    for anything else that is not a finite number in the locale's format.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("decimal.required")
    if not _NUMBER_CHARS.fullmatch(cleaned):
        raise ValueError("decimal.invalid")
    try:
        number = babel_numbers.parse_decimal(cleaned, locale=babel_locale(locale), strict=True)
    except (babel_numbers.NumberFormatError, InvalidOperation) as exc:
        raise ValueError("decimal.invalid") from exc
    if not number.is_finite():
        raise ValueError("decimal.invalid")
    return number


# --- Jinja ---------------------------------------------------------------------------------------


@jinja2.pass_context
def _date_filter(context: Context, value: DateLike | None, format: str = "short") -> str:
    return format_date(value, locale=_context_locale(context), tz=_context_tz(context), format=format)


@jinja2.pass_context
def _datetime_filter(context: Context, value: dt.datetime | None) -> str:
    return format_datetime(value, locale=_context_locale(context), tz=_context_tz(context))


@jinja2.pass_context
def _time_tag_filter(context: Context, value: DateLike | None) -> Markup:
    return time_tag(value, locale=_context_locale(context), tz=_context_tz(context))


@jinja2.pass_context
def _decimal_filter(context: Context, value: Decimal | int | float | str | None, places: int | None = None) -> str:
    return format_decimal(value, locale=_context_locale(context), places=places)


@jinja2.pass_context
def _quantity_filter(
    context: Context, value: Decimal | int | float | str | None, unit: str | None = None, places: int | None = None
) -> str:
    return format_quantity(value, unit, locale=_context_locale(context), places=places)


@jinja2.pass_context
def _money_filter(context: Context, value: Decimal | int | float | str | None, currency: str) -> str:
    return format_money(value, currency, locale=_context_locale(context))


@jinja2.pass_context
def _relative_filter(context: Context, value: DateLike | None, now: dt.datetime | None = None) -> str:
    return format_relative(value, locale=_context_locale(context), tz=_context_tz(context), now=now)


FILTERS: Final[Mapping[str, Callable[..., Any]]] = {
    "date": _date_filter,
    "datetime": _datetime_filter,
    "time_tag": _time_tag_filter,
    "decimal": _decimal_filter,
    "quantity": _quantity_filter,
    "money": _money_filter,
    "relative": _relative_filter,
}


def install(env: jinja2.Environment) -> None:
    """Prepare a shared UI environment (before its first template is compiled):

    - the i18n extension with newstyle gettext and trimmed `{% trans %}` (as extraction, babel.cfg);
    - `gettext`, `ngettext`, `pgettext`, `npgettext` globals that follow the context's `locale`
      (then `activate()`, then English): the render context's own callables take precedence;
    - the filters `date`, `datetime`, `time_tag`, `decimal`, `quantity`, `money`, `relative`,
      reading `locale` and `tz` from the context.
    """
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        env.add_extension("jinja2.ext.i18n")
    setattr(env, "newstyle_gettext", True)  # noqa: B010 - attribute added by the i18n extension
    env.policies["ext.i18n.trimmed"] = True
    callables = _make_callables(_context_locale)
    env.globals.update({k: v for k, v in callables.items() if k != "_"})  # `_` stays jinja's alias of `gettext`
    env.filters.update(FILTERS)
