"""Form handling: form data into the API's Pydantic models, and errors back onto fields.

Pydantic's `loc` becomes the field name (nested rows: `lines-2-quantity`); errors that belong to
no field go to the form's error summary. Messages come from the catalog by error code.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from depotflow.core.errors import DepotflowError
from depotflow.ui import i18n


def _(message: str) -> str:  # extraction marker; translated by `message_for`
    return message


# Messages by stable error code (API codes and Pydantic error types).
MESSAGES: Mapping[str, str] = {
    "missing": _("This field is required."),
    "string_too_short": _("This field is required."),
    "string_too_long": _("This value is too long."),
    "decimal.required": _("Enter a number."),
    "decimal.invalid": _("Enter a number, like 12,5 or 1.250,75."),
    "decimal_parsing": _("Enter a number."),
    "greater_than": _("Enter a number greater than zero."),
    "greater_than_equal": _("Enter zero or more."),
    "int_parsing": _("Enter a whole number."),
    "date_from_datetime_parsing": _("Enter a date."),
    "date_parsing": _("Enter a date."),
    "value_error": _("This value is not valid."),
    "enum": _("Choose one of the options."),
    "auth.invalid_credentials": _("Invalid username or password."),
    "auth.password_rejected": _("The password is not correct."),
    "password_rejected": _("The password is not correct."),
    "wrong_password": _("The current password is not correct."),
    "auth.wrong_current_password": _("The current password is not correct."),
    "identity.weak_password": _("The new password does not meet the password rules."),
    "web.passwords_differ": _("The two new passwords differ."),
}


def message_for(code: str, locale: str, fallback: str | None = None) -> str:
    msgid = MESSAGES.get(code)
    if msgid is None:
        return fallback or i18n.translate(locale, "This value is not valid.")
    return i18n.translate(locale, msgid)


@dataclass(slots=True)
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.summary)

    def add(self, name: str | None, message: str) -> None:
        if name:
            self.fields.setdefault(name, message)
        else:
            self.summary.append(message)


def field_name(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return "-".join(parts) if parts else None


def from_validation(exc: ValidationError, locale: str) -> FormErrors:
    errors = FormErrors()
    for err in exc.errors():
        errors.add(field_name(tuple(err.get("loc", ()))), message_for(str(err.get("type")), locale))
    return errors


def from_domain(exc: DepotflowError, locale: str) -> FormErrors:
    errors = FormErrors()
    for f in exc.fields:
        errors.add(field_name(f.loc), message_for(f.code, locale, fallback=f.msg))
    if not exc.fields:
        errors.add(None, message_for(exc.code, locale, fallback=exc.message))
    return errors


def form_values(form: Mapping[str, Any], *, exclude: tuple[str, ...] = ("csrf_token",)) -> dict[str, str]:
    """What the user typed, to put back into the form (never passwords)."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k not in exclude and "password" not in k}
