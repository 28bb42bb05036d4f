"""Errors of the identity domain."""

from depotflow.core.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    TooManyRequests,
    UpstreamUnavailable,
    ValidationFailed,
)


class InvalidCredentials(NotAuthenticated):
    code = "auth.invalid_credentials"
    commit_before_raise = True  # the failed attempt, its throttle count and audit entry persist


class LoginLocked(TooManyRequests):
    code = "auth.login_locked"
    commit_before_raise = True


class InvalidAuthorizationHeader(NotAuthenticated):
    code = "auth.invalid_header"


class MissingCredentials(NotAuthenticated):
    code = "auth.not_authenticated"


class InvalidToken(NotAuthenticated):
    code = "auth.invalid_token"


class TokenExpired(NotAuthenticated):
    code = "auth.token_expired"


class TokenRevoked(NotAuthenticated):
    code = "auth.token_revoked"


class UserInactive(NotAuthenticated):
    code = "auth.user_inactive"


class IdentityServerUnavailable(UpstreamUnavailable):
    code = "auth.identity_server_unavailable"
    commit_before_raise = True


class UserNotFound(NotFound):
    code = "identity.user_not_found"


class RoleNotFound(NotFound):
    code = "identity.role_not_found"


class UsernameTaken(Conflict):
    code = "identity.username_taken"


class RoleSlugTaken(Conflict):
    code = "identity.role_slug_taken"


class RoleInUse(Conflict):
    code = "identity.role_in_use"


class LastAdministrator(Conflict):
    code = "identity.last_administrator"


class ExternallyManagedUser(Conflict):
    code = "identity.externally_managed"


class WeakPassword(ValidationFailed):
    code = "identity.weak_password"


class UnknownPermission(ValidationFailed):
    code = "identity.unknown_permission"


class UnknownRole(ValidationFailed):
    code = "identity.unknown_role"


class CannotDeactivateSelf(Conflict):
    code = "identity.cannot_deactivate_self"


class SystemRole(Conflict):
    code = "identity.system_role"


class WrongCurrentPassword(ValidationFailed):
    code = "identity.wrong_current_password"
    commit_before_raise = True  # the failed attempt is audited


class PasswordRejected(ValidationFailed):
    """A re-entered password (to sign) is wrong; counted toward the login lockout."""

    code = "identity.password_rejected"
    commit_before_raise = True


class UserNotLocked(Conflict):
    code = "identity.user_not_locked"


class CannotResetOwnPassword(Conflict):
    code = "identity.cannot_reset_own_password"


class SessionNotFound(NotFound):
    code = "identity.session_not_found"


class CurrentSession(Conflict):
    code = "identity.current_session"
