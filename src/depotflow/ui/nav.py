"""The menu: one table of (group, item, label, URL, permission). An item shows only when the actor
holds its permission; a group only when one of its items shows. Later modules add rows here."""

from dataclasses import dataclass

from depotflow.core.security import Actor
from depotflow.domains.approval import permissions as approval_perms
from depotflow.domains.audit import permissions as audit_perms
from depotflow.domains.company import permissions as company_perms
from depotflow.domains.config import permissions as config_perms
from depotflow.domains.identity import permissions as identity_perms
from depotflow.domains.part import permissions as part_perms
from depotflow.domains.procurement import permissions as procurement_perms
from depotflow.domains.stock import permissions as stock_perms


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


@dataclass(frozen=True, slots=True)
class NavItem:
    group: str
    key: str
    label: str
    url: str
    icon: str
    permission: str | None  # None: every signed-in user


NAV: tuple[NavItem, ...] = (
    NavItem(_("Home"), "dashboard", _("Dashboard"), "/web/dashboard", "house", None),
    NavItem(_("Home"), "approvals", _("My approvals"), "/web/approvals", "check2-square", None),
    NavItem(_("Operations"), "procurement", _("Procurement"), "/web/procurement", "cart", procurement_perms.VIEW),
    NavItem(_("Operations"), "stock", _("Stock"), "/web/stock", "boxes", stock_perms.VIEW),
    NavItem(_("Inventory"), "parts", _("Parts"), "/web/inventory/parts", "box-seam", part_perms.VIEW),
    NavItem(_("Inventory"), "categories", _("Categories"), "/web/inventory/categories", "tags", part_perms.VIEW),
    NavItem(_("Inventory"), "locations", _("Locations"), "/web/inventory/locations", "geo-alt", stock_perms.VIEW),
    NavItem(_("Inventory"), "suppliers", _("Suppliers"), "/web/inventory/companies", "building", company_perms.VIEW),
    NavItem(_("Administration"), "users", _("Users"), "/web/admin/users", "people", identity_perms.USERS_VIEW),
    NavItem(_("Administration"), "roles", _("Roles"), "/web/admin/roles", "person-gear", identity_perms.ROLES_VIEW),
    NavItem(
        _("Administration"),
        "approval_templates",
        _("Approval templates"),
        "/web/admin/approval-templates",
        "diagram-3",
        approval_perms.TEMPLATES_MANAGE,
    ),
    NavItem(_("Administration"), "audit", _("Audit log"), "/web/admin/audit", "journal-text", audit_perms.VIEW),
    NavItem(_("Administration"), "settings", _("Settings"), "/web/admin/settings", "gear", config_perms.CHANGE),
)


def visible(item: NavItem, actor: Actor) -> bool:
    return item.permission is None or actor.has(item.permission)


def menu(actor: Actor, *, available: frozenset[str] | None = None) -> list[tuple[str, list[NavItem]]]:
    """The actor's menu, grouped in table order; `available` limits it to pages that exist."""
    groups: dict[str, list[NavItem]] = {}
    for item in NAV:
        if (available is None or item.key in available) and visible(item, actor):
            groups.setdefault(item.group, []).append(item)
    return list(groups.items())
