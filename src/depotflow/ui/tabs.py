"""A detail page's sections (ui.md §5.2), drawn by the `tabs(tabs, current)` macro of
`macros/ui.html`: each tab is a link that loads the page's `#detail-body` block."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tab:
    """One section: `label` is a msgid (the macro translates it), `count` is shown after it when set."""

    slug: str
    label: str
    url: str
    count: int | None = None
