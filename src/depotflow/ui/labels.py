"""Labels of enumerated values (states, meanings, movement types), marked for translation.

The database stores slugs; the UI shows these labels through the request's catalog. `_` here only
marks the strings for extraction: translation happens at render time (`label()` in render.py).
"""

from collections.abc import Mapping


def _(message: str) -> str:
    return message


STATE_LABELS: Mapping[str, Mapping[str, str]] = {
    "purchase_order": {
        "pending": _("Pending"),
        "issued": _("Issued"),
        "receiving": _("Receiving"),
        "finished": _("Finished"),
        "cancelled": _("Cancelled"),
        "refused": _("Refused"),
    },
    "stock": {
        "ok": _("OK"),
        "quarantine": _("Quarantine"),
        "quarantine_transferable": _("Quarantine – transferable"),
        "rejected": _("Rejected"),
        "damaged": _("Damaged"),
        "expired": _("Expired"),
    },
    "approval": {
        "pending": _("Pending"),
        "in_progress": _("In progress"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "cancelled": _("Cancelled"),
    },
    "qc": {
        "pending": _("Pending"),
        "conform": _("Conform"),
        "non_conform": _("Non-conform"),
    },
    "user": {
        "active": _("Active"),
        "inactive": _("Inactive"),
    },
}

# Bootstrap colour and icon per state: a colour is never the only cue (the label and icon carry it).
STATE_STYLES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "purchase_order": {
        "pending": ("secondary", "hourglass-split"),
        "issued": ("primary", "check2-square"),
        "receiving": ("info", "truck"),
        "finished": ("success", "check-circle"),
        "cancelled": ("dark", "slash-circle"),
        "refused": ("danger", "x-circle"),
    },
    "stock": {
        "ok": ("success", "check-circle"),
        "quarantine": ("warning", "lock"),
        "quarantine_transferable": ("warning", "arrow-left-right"),
        "rejected": ("danger", "x-circle"),
        "damaged": ("danger", "exclamation-triangle"),
        "expired": ("danger", "clock-history"),
    },
    "approval": {
        "pending": ("secondary", "hourglass-split"),
        "in_progress": ("info", "pen"),
        "approved": ("success", "check-circle"),
        "rejected": ("danger", "x-circle"),
        "cancelled": ("dark", "slash-circle"),
    },
    "qc": {
        "pending": ("secondary", "hourglass-split"),
        "conform": ("success", "check-circle"),
        "non_conform": ("danger", "x-circle"),
    },
    "user": {"active": ("success", "check-circle"), "inactive": ("secondary", "slash-circle")},
}

MEANING_LABELS: Mapping[str, str] = {
    "approved": _("Approved"),
    "rejected": _("Rejected"),
    "released": _("Released"),
    "reviewed": _("Reviewed"),
}


def state_style(kind: str, slug: str) -> tuple[str, str]:
    return STATE_STYLES.get(kind, {}).get(slug, ("secondary", "info-circle"))


def state_msgid(kind: str, slug: str) -> str:
    """The English label (the catalog msgid); unknown slugs show as themselves."""
    return STATE_LABELS.get(kind, {}).get(slug, slug)
