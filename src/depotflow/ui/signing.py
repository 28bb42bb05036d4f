"""Who signs in the browser: the identification components an electronic signature asks for
(21 CFR Part 11 §11.200(a)(1)), one implementation for every signing form.

§11.200(a)(1): the first signing during a continuous period of controlled system access (here: one
browser session, i.e. one `identity_token`) uses all identification components, username and
password; later signings in the same session at least one, the password. The setting
`signature_require_username` (config domain, on by default) switches the first-signing rule on.

The API, used by the approval signature dialog and the QC confirmation of a purchase order:

- `asks_username`: does this session still have to give the username?
- `check_username`: the form-level check of the typed username (missing, too long).
- `verify_signer`: check the typed username (when asked) and the password in one call; a wrong one
  raises `SignerRejected` (counted toward the lockout and audited as a failed re-authentication).
- `record_identified`: after a successful signature, record that the session identified.
- `settle_rejection`: keep the failed attempt and wait its slowdown, as the JSON API does.

Removing (withdrawing) a signature is not a signing in the sense of §11.200(a)(1). It makes no
signature manifestation (§11.50: the printed name, date and time, meaning of a signature) and links
no signature to a record (§11.70); it is a change to the record that the system lets only an
authorised, re-authenticated person make (authority checks, §11.10(d), (g)) and that the audit trail
records with its reason (§11.10(e)); the withdrawn signature stays in the record. So the removal
dialog re-authenticates through `verify_signer` with the password alone (`username=None`), does not
ask for the username, and does not mark the session as identified: a session whose only act was a
removal still gives both components at its first real signature.
"""

import dataclasses

import anyio
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from depotflow.core.errors import DepotflowError
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import AuditFilter
from depotflow.domains.config import service as config_service
from depotflow.domains.identity import errors as identity_errors
from depotflow.domains.identity import service as identity_service
from depotflow.ui import forms
from depotflow.ui.render import ui_state
from depotflow.web.deps import client_ip

# The audit event that marks a browser session (its token) as having given both identification
# components, username and password, for a signature. The name predates the QC confirmation using it
# too, and stays: sessions identified before are found by it.
SIGNER_IDENTIFIED = "approval.signer_identified"
# The error code of a refused signature whose typed username is not the signed-in user's.
USERNAME_MISMATCH = "approval.username_mismatch"
USERNAME_MAX = 150
PASSWORD_MAX = 1024


def _(message: str) -> str:  # marks msgids for extraction; translated with i18n.translate
    return message


# The inline error of the username field when the typed one is not the signed-in user's (every form).
USERNAME_WRONG = _("This is not the username you signed in with; nothing was signed.")


class SignerRejected(identity_errors.PasswordRejected):
    """A signature refused for a wrong password or a wrong typed username (or both).

    Raised by `verify_signer` after the failed re-authentication was counted and audited in the
    caller's write session (`commit_before_raise`): `settle_rejection` keeps it.
    """

    def __init__(self, cause: identity_errors.PasswordRejected, *, username_wrong: bool, password_wrong: bool) -> None:
        super().__init__(cause.message, fields=cause.fields)
        self.delay_seconds = cause.delay_seconds
        self.username_wrong = username_wrong
        self.password_wrong = password_wrong


class UsernameMismatch(SignerRejected):
    """The typed username is not the signed-in user's (the password may be wrong as well)."""

    code = USERNAME_MISMATCH


async def is_identified(session: AsyncSession, actor: Actor) -> bool:
    """Whether this browser session already signed with username and password.

    The session (its `identity_token` row) has no field of its own for this, so the fact is the
    audit event written with that signature, keyed by the token: it ends with the session, since a
    new sign-in is a new token. A caller without a token (an API key) is never identified.
    """
    if actor.token_id is None:
        return False
    found = await audit_service.list_entries(
        session,
        filters=AuditFilter(action=SIGNER_IDENTIFIED, entity_type="identity_token", entity_id=str(actor.token_id)),
        page=PageRequest(offset=0, limit=1),
        sort=None,
        search=None,
    )
    return bool(found.items)


async def asks_username(session: AsyncSession, actor: Actor) -> bool:
    """Whether the next signature of this session must also give the username: the setting is on and
    the session has not yet signed with both components."""
    return await config_service.signature_requires_username(session) and not await is_identified(session, actor)


def check_username(errors: forms.FormErrors, *, asked: bool, typed: str, locale: str) -> None:
    """Add the form-level errors of the typed username (missing when asked, too long) to `errors`.
    Such errors are plain validation errors: nothing is counted toward the lockout."""
    if asked and not typed:
        errors.add("username", forms.message_for("missing", locale))
    if len(typed) > USERNAME_MAX:
        errors.add("username", forms.message_for("string_too_long", locale))


async def verify_signer(
    request: Request,
    read_session: AsyncSession,
    session: AsyncSession,
    actor: Actor,
    *,
    password: str,
    username: str | None,
    purpose: str,
) -> None:
    """Check the signer: the typed `username` (None when it was not asked; compared without regard to
    case) and the re-entered `password`, as the two phases of `identity_service.reauthenticate`
    (the password check on `read_session`, holding no lock; the outcome written on `session`).

    A wrong password, or a right one with a wrong username, counts toward the login lockout of the
    signed-in account (never of the account named) and is audited as `auth.reauthentication_failed`
    (reason `username_mismatch` for the username). Nothing else is written.

    Raises: SignerRejected (UsernameMismatch when the username was wrong), LoginLocked,
    IdentityServerUnavailable.
    """
    settings = ui_state(request).settings
    check = await identity_service.check_login(
        read_session,
        username=actor.username,
        password=password,
        ip_address=client_ip(request),
        identity=settings.identity,
    )
    password_wrong = check.outcome != "ok"
    username_wrong = username is not None and username.strip().casefold() != actor.username.casefold()
    if username_wrong and not password_wrong:
        check = dataclasses.replace(check, outcome="failed", reason="username_mismatch", user_id=actor.user_id)
    try:
        await identity_service.confirm_password(session, actor, check, security=settings.security, purpose=purpose)
    except identity_errors.PasswordRejected as exc:
        kind = UsernameMismatch if username_wrong else SignerRejected
        raise kind(exc, username_wrong=username_wrong, password_wrong=password_wrong or not username_wrong) from exc


async def record_identified(session: AsyncSession, actor: Actor, *, asked: bool, **details: object) -> None:
    """After a signature given with the username (`asked`): this session has now identified, so its
    later signatures ask for the password only. Written in the signature's transaction; `details`
    name what was signed. Does nothing when the username was not asked (setting off, or already
    identified) or the caller has no session token."""
    if not asked or actor.token_id is None:
        return
    await audit_service.record(
        session,
        action=SIGNER_IDENTIFIED,
        entity_type="identity_token",
        entity_id=actor.token_id,
        details={"username": actor.username, **details},
    )


async def settle_rejection(session: AsyncSession, exc: DepotflowError) -> None:
    """After a refused re-authentication: keep what the error says must be kept (the failed attempt,
    its throttle count and audit entry), else nothing; then wait the login slowdown."""
    if exc.commit_before_raise:
        await session.commit()
    else:
        await session.rollback()
    if exc.delay_seconds > 0:
        await anyio.sleep(exc.delay_seconds)
