"""Permission slugs of the identity domain (and the catalogue entries it owns)."""

from depotflow.core.security import ADMIN_PERMISSION

ADMIN = ADMIN_PERMISSION
USERS_VIEW = "identity.users.view"
USERS_MANAGE = "identity.users.manage"
ROLES_VIEW = "identity.roles.view"
ROLES_MANAGE = "identity.roles.manage"

CATALOGUE = {
    ADMIN: "Administrator: every permission, including ones added later",
    USERS_VIEW: "See user accounts and their last login",
    USERS_MANAGE: "Create, change and deactivate user accounts",
    ROLES_VIEW: "See roles and the permission catalogue",
    ROLES_MANAGE: "Create, change and delete roles",
}
