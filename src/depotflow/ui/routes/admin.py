"""Administration pages (ui.md §4.3 F6, F7, F11, F12): users, roles, the audit trail and the
organisation settings. Each route calls the domain service in-process and requires the permission
of the API route it mirrors."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response, StreamingResponse

from depotflow.core.errors import DepotflowError
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.audit import permissions as audit_perms
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import AuditFilter
from depotflow.domains.config import permissions as config_perms
from depotflow.domains.config import service as config_service
from depotflow.domains.config.schemas import ConfigRead, ConfigUpdate
from depotflow.domains.identity import permissions as identity_perms
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.schemas import (
    MAX_ID,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    UserCreate,
    UserFilter,
    UserRead,
    UserUpdate,
)
from depotflow.ui import forms, i18n
from depotflow.ui.listing import fetch_list, list_query
from depotflow.ui.render import flash, is_htmx, locale_of, render, render_fragment, ui_state
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import WebUser, web_requirement
from depotflow.web.deps import ReadSessionDep, SessionDep

router = ui_router()


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


UsersViewer = Annotated[WebUser, Depends(web_requirement(identity_perms.USERS_VIEW))]
UsersManager = Annotated[WebUser, Depends(web_requirement(identity_perms.USERS_MANAGE))]
RolesViewer = Annotated[WebUser, Depends(web_requirement(identity_perms.ROLES_VIEW))]
RolesManager = Annotated[WebUser, Depends(web_requirement(identity_perms.ROLES_MANAGE))]
AuditViewer = Annotated[WebUser, Depends(web_requirement(audit_perms.VIEW))]
ConfigEditor = Annotated[WebUser, Depends(web_requirement(config_perms.CHANGE))]
UserId = Annotated[int, Path(gt=0, le=MAX_ID)]
RoleId = Annotated[int, Path(gt=0, le=MAX_ID)]

# A domain error that belongs to one field of the form: (field, message). Field errors answer 422
# (the user can fix the value); others keep the error's own status.
DOMAIN_FIELDS: Mapping[str, tuple[str | None, str]] = {
    "identity.username_taken": ("username", _("This username is already taken.")),
    "identity.weak_password": (
        "password",
        _("The password is too weak: use at least %(min)s characters, and not the username."),
    ),
    "identity.unknown_role": ("role_id", _("Choose one of the options.")),
    "identity.cannot_deactivate_self": ("is_active", _("You cannot deactivate your own account.")),
    "identity.externally_managed": (None, _("This account is managed by the identity server.")),
    "identity.last_administrator": (None, _("This change would leave no active administrator.")),
    "identity.role_slug_taken": ("slug", _("A role with this slug already exists.")),
    "identity.system_role": (None, _("System roles keep their slug and cannot be deleted.")),
    "identity.unknown_permission": ("permissions", _("Choose permissions from the list.")),
    "identity.role_in_use": (None, _("Users still hold this role: give them another role first.")),
}

# Entity types with a page here: (URL prefix, permission to open it).
ENTITY_PAGES: Mapping[str, tuple[str, str]] = {
    "identity_user": ("/web/admin/users/", identity_perms.USERS_VIEW),
    "identity_role": ("/web/admin/roles/", identity_perms.ROLES_VIEW),
}
TEXT_LIMIT = 1000  # form values longer than any column are cut here; the schema then reports them


def _tr(request: Request, msgid: str, **variables: Any) -> str:
    return i18n.translate(locale_of(request), msgid, **variables)


def _domain_errors(request: Request, exc: DepotflowError) -> tuple[forms.FormErrors, int]:
    """The form errors of a refused write and the status to answer with."""
    locale = locale_of(request)
    known = DOMAIN_FIELDS.get(exc.code)
    if known is None:
        return forms.from_domain(exc, locale), exc.status
    name, msgid = known
    min_length = ui_state(request).settings.security.password_min_length
    errors = forms.FormErrors()
    errors.add(name, i18n.translate(locale, msgid, min=min_length))
    return errors, 422 if name else exc.status


def _validation_errors(request: Request, exc: ValidationError) -> forms.FormErrors:
    errors = forms.from_validation(exc, locale_of(request))
    # A bad entry of a list (`permissions-3`) is shown at the list.
    fields: dict[str, str] = {}
    for name, message in errors.fields.items():
        fields.setdefault(name.split("-")[0], message)
    return forms.FormErrors(fields=fields, summary=errors.summary)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:TEXT_LIMIT] if isinstance(value, str) else ""


def _optional(form: FormData, name: str) -> str | None:
    return _text(form, name).strip() or None


def _parse_id(form: FormData, name: str, errors: forms.FormErrors, locale: str) -> int | None:
    raw = _text(form, name).strip()
    if not raw:
        return None
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    errors.add(name, forms.message_for("enum", locale))
    return None


def _validate(model: type[BaseModel], data: dict[str, Any], request: Request, errors: forms.FormErrors) -> Any:
    """`model` from the form's data, or None with the problems added to `errors`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = _validation_errors(request, exc)
        for name, message in found.fields.items():
            errors.add(name, message)
        errors.summary.extend(found.summary)
        return None


def _redirect(request: Request, url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, request, message)
    return response


# --- Users (F6) -----------------------------------------------------------------------------------

USER_STATUSES = {"active": True, "inactive": False}


async def _role_options(session: AsyncSession, user: WebUser) -> list[tuple[int, str]]:
    page = await identity_service.list_roles(
        session, user.actor, page=PageRequest(offset=0, limit=500), sort="name", search=None
    )
    return [(role.id, role.name) for role in page.items]


@router.get("/admin/users", openapi_extra=mirrors("GET /api/users/"))
async def users_list(request: Request, user: UsersViewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    status = request.query_params.get("status", "")
    filters = UserFilter(is_active=USER_STATUSES.get(status))
    view = await fetch_list(
        query,
        lambda page, sort: identity_service.list_users(
            session, user.actor, filters=filters, page=page, sort=sort, search=query.q
        ),
    )
    rows = [identity_service.user_read(u) for u in view.items]
    return render(
        request,
        "pages/admin/users/list.html",
        {
            "page": view,
            "rows": rows,
            "locks": await identity_service.login_locks(session, usernames=[r.username for r in rows]),
            "q": query.q or "",
            "status": status if status in USER_STATUSES else "",
            "filtered": bool(query.q or status in USER_STATUSES),
            "can_manage": user.actor.has(identity_perms.USERS_MANAGE),
        },
        blocks=("results",),
    )


def _new_user_page(
    request: Request,
    roles: list[tuple[int, str]],
    *,
    values: Mapping[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "pages/admin/users/new.html",
        {"roles": roles, "values": values or {}, "errors": errors or forms.FormErrors()},
        status=status,
    )


@router.get("/admin/users/new", openapi_extra=mirrors("POST /api/users/"))
async def user_new(request: Request, user: UsersManager, session: ReadSessionDep) -> Response:
    return _new_user_page(request, await _role_options(session, user), values={"must_change_password": "true"})


@router.post("/admin/users", openapi_extra=mirrors("POST /api/users/"))
async def user_create(request: Request, user: UsersManager, session: SessionDep) -> Response:
    locale = locale_of(request)
    form = await request.form()
    roles = await _role_options(session, user)
    errors = forms.FormErrors()
    password = _text(form, "password")
    data: dict[str, Any] = {
        "username": _text(form, "username"),
        "password": password,
        "first_name": _text(form, "first_name"),
        "last_name": _text(form, "last_name"),
        "email": _optional(form, "email"),
        "role_id": _parse_id(form, "role_id", errors, locale),
        "must_change_password": form.get("must_change_password") == "true",
    }
    if not password:
        errors.add("password", forms.message_for("missing", locale))
    body = _validate(UserCreate, data, request, errors)
    status = 422
    if body is not None and not errors:
        settings = ui_state(request).settings
        try:
            created = await identity_service.create_user(session, user.actor, data=body, security=settings.security)
        except DepotflowError as exc:
            await session.rollback()
            errors, status = _domain_errors(request, exc)
        else:
            message = _tr(request, _("User %(username)s was created."), username=created.username)
            return _redirect(request, f"/web/admin/users/{created.id}", message)
    return _new_user_page(request, roles, values=forms.form_values(form), errors=errors, status=status)


def _user_values(read: UserRead) -> dict[str, Any]:
    return {
        "first_name": read.first_name,
        "last_name": read.last_name,
        "email": read.email or "",
        "role_id": str(read.role.id) if read.role else "",
        "is_active": "true" if read.is_active else "",
    }


async def _user_page(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    read: UserRead,
    *,
    roles: list[tuple[int, str]] | None = None,
    values: Mapping[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    can_manage = user.actor.has(identity_perms.USERS_MANAGE)
    if roles is None:
        roles = await _role_options(session, user) if can_manage else []
    return render(
        request,
        "pages/admin/users/detail.html",
        {
            "target": read,
            "locked_until": await identity_service.login_lock(session, username=read.username),
            "sessions": await identity_service.list_sessions(
                session, user_id=read.id, current_token_id=user.actor.token_id
            ),
            "revoke_url": None,
            "can_manage": can_manage,
            "roles": roles,
            "values": values if values is not None else _user_values(read),
            "errors": errors or forms.FormErrors(),
        },
        status=status,
    )


@router.get(
    "/admin/users/{user_id}",
    openapi_extra=mirrors(
        "GET /api/users/{user_id}", "GET /api/users/{user_id}/lock", "GET /api/users/{user_id}/sessions"
    ),
)
async def user_detail(request: Request, user_id: UserId, user: UsersViewer, session: ReadSessionDep) -> Response:
    read = identity_service.user_read(await identity_service.get_user(session, user_id))
    return await _user_page(request, session, user, read)


@router.post("/admin/users/{user_id}", openapi_extra=mirrors("PUT /api/users/{user_id}"))
async def user_update(request: Request, user_id: UserId, user: UsersManager, session: SessionDep) -> Response:
    locale = locale_of(request)
    before = identity_service.user_read(await identity_service.get_user(session, user_id))
    roles = await _role_options(session, user)
    form = await request.form()
    errors = forms.FormErrors()
    data: dict[str, Any] = {
        "first_name": _text(form, "first_name"),
        "last_name": _text(form, "last_name"),
        "email": _optional(form, "email"),
        "role_id": _parse_id(form, "role_id", errors, locale),
        "is_active": form.get("is_active") == "true",
    }
    body = _validate(UserUpdate, data, request, errors)
    status = 422
    if body is not None and not errors:
        settings = ui_state(request).settings
        try:
            await identity_service.update_user(
                session, user.actor, user_id=user_id, data=body, security=settings.security
            )
        except DepotflowError as exc:
            await session.rollback()
            errors, status = _domain_errors(request, exc)
        else:
            message = _tr(request, _("User %(username)s was saved."), username=before.username)
            return _redirect(request, f"/web/admin/users/{user_id}", message)
    values = forms.form_values(form)
    values.setdefault("is_active", "")
    return await _user_page(request, session, user, before, roles=roles, values=values, errors=errors, status=status)


# --- Account actions (F6): unlock, password reset, ending sessions — reason dialogs (§5.5) ----------


class UserAction(BaseModel):
    slug: str
    api: str  # the API route the action mirrors
    label: str
    consequence: str
    style: str


USER_ACTIONS: Mapping[str, UserAction] = {
    "unlock": UserAction(
        slug="unlock",
        api="POST /api/users/{user_id}/unlock",
        label=_("Unlock sign-in"),
        consequence=_(
            "The lock left by failed sign-in attempts is lifted and the count of failed attempts starts again."
        ),
        style="warning",
    ),
    "reset-password": UserAction(
        slug="reset-password",
        api="POST /api/users/{user_id}/password-reset",
        label=_("Reset password"),
        consequence=_(
            "The account gets the temporary password you set. The user must change it at the next sign-in, "
            "and all their sessions end now."
        ),
        style="danger",
    ),
    "revoke-sessions": UserAction(
        slug="revoke-sessions",
        api="POST /api/users/{user_id}/sessions/revoke",
        label=_("End all sessions"),
        consequence=_("Every session and token of this account ends now; the user must sign in again."),
        style="danger",
    ),
}


def _user_action_form(
    request: Request,
    target: UserRead,
    action: UserAction,
    *,
    available: bool,
    values: Mapping[str, str] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    ctx = {
        "target": target,
        "action": action,
        "available": available,
        "values": values or {},
        "errors": errors or forms.FormErrors(),
        "action_url": f"/web/admin/users/{target.id}/{action.slug}",
    }
    if is_htmx(request) and request.headers.get("hx-target") == "dialog-content":
        return render_fragment(request, "pages/admin/_user_action_dialog.html", ctx, status=status)
    return render(request, "pages/admin/user_action.html", ctx, status=status)


async def _action_available(session: AsyncSession, user: WebUser, action: UserAction, target: UserRead) -> bool:
    if action.slug == "unlock":
        return await identity_service.login_lock(session, username=target.username) is not None
    if action.slug == "reset-password":
        return target.auth_source == "local" and target.id != user.actor.user_id
    return True


def _done(request: Request, url: str, message: str) -> Response:
    """A successful action: 303 to `url` (HX-Redirect when the dialog posted it), with a flash."""
    response: Response
    if is_htmx(request):
        response = Response(status_code=200, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    flash(response, request, message)
    return response


async def _apply_user_action(
    request: Request, session: AsyncSession, user: WebUser, action: UserAction, target: UserRead, form: FormData
) -> tuple[str | None, forms.FormErrors]:
    """Run the action; the flash message on success, else the errors to show in the form."""
    locale = locale_of(request)
    errors = forms.FormErrors()
    reason = _text(form, "reason").strip()
    if not reason:
        errors.add("reason", forms.message_for("missing", locale))
    password = _text(form, "temporary_password")
    if action.slug == "reset-password":
        if not password:
            errors.add("temporary_password", forms.message_for("missing", locale))
        elif password != _text(form, "temporary_password_again"):
            errors.add("temporary_password_again", forms.message_for("web.passwords_differ", locale))
    if errors:
        return None, errors
    settings = ui_state(request).settings
    if action.slug == "unlock":
        await identity_service.unlock_user(session, user.actor, user_id=target.id, reason=reason)
        return _tr(request, _("Sign-in for %(username)s is unlocked."), username=target.username), errors
    if action.slug == "reset-password":
        await identity_service.reset_password(
            session,
            user.actor,
            user_id=target.id,
            temporary_password=password,
            reason=reason,
            security=settings.security,
        )
        message = _(
            "%(username)s has a temporary password and must change it at the next sign-in; their sessions were ended."
        )
        return _tr(request, message, username=target.username), errors
    revoked = await identity_service.revoke_sessions(session, user.actor, user_id=target.id, reason=reason)
    return _tr(request, _("%(n)s sessions of %(username)s were ended."), n=revoked, username=target.username), errors


ACTION_FIELDS: Mapping[str, tuple[str | None, str]] = {
    "identity.weak_password": (
        "temporary_password",
        _("The password is too weak: use at least %(min)s characters, and not the username."),
    ),
    "identity.user_not_locked": (None, _("This account is not locked.")),
    "identity.cannot_reset_own_password": (None, _("Change your own password on your account page.")),
    "identity.externally_managed": (None, _("This account is managed by the identity server.")),
}


def _user_action_routes(action: UserAction) -> None:
    async def dialog(request: Request, user_id: UserId, user: UsersManager, session: ReadSessionDep) -> Response:
        target = identity_service.user_read(await identity_service.get_user(session, user_id))
        available = await _action_available(session, user, action, target)
        return _user_action_form(request, target, action, available=available)

    async def apply(request: Request, user_id: UserId, user: UsersManager, session: SessionDep) -> Response:
        target = identity_service.user_read(await identity_service.get_user(session, user_id))
        form = await request.form()
        try:
            message, errors = await _apply_user_action(request, session, user, action, target, form)
        except DepotflowError as exc:
            await session.rollback()
            if exc.status in (401, 403, 404):
                raise
            known = ACTION_FIELDS.get(exc.code)
            if known is None:
                errors = forms.from_domain(exc, locale_of(request))
            else:
                errors = forms.FormErrors()
                min_length = ui_state(request).settings.security.password_min_length
                errors.add(known[0], i18n.translate(locale_of(request), known[1], min=min_length))
            status = 422 if exc.status in (400, 422) else exc.status
            message = None
        else:
            status = 422
        if message is not None:
            return _done(request, f"/web/admin/users/{user_id}", message)
        available = await _action_available(session, user, action, target)
        values = {"reason": _text(form, "reason")}  # passwords are never echoed
        return _user_action_form(
            request, target, action, available=available, values=values, errors=errors, status=status
        )

    router.add_api_route(
        f"/admin/users/{{user_id}}/{action.slug}/dialog",
        dialog,
        methods=["GET"],
        openapi_extra=mirrors(action.api),
        name=f"admin_user_{action.slug}_dialog",
    )
    router.add_api_route(
        f"/admin/users/{{user_id}}/{action.slug}",
        apply,
        methods=["POST"],
        openapi_extra=mirrors(action.api),
        name=f"admin_user_{action.slug}",
    )


for _action in USER_ACTIONS.values():
    _user_action_routes(_action)


# --- Roles (F7) -----------------------------------------------------------------------------------


async def _permission_groups(session: AsyncSession) -> list[tuple[str, list[tuple[str, str]]]]:
    """The permission catalogue grouped by domain prefix (`identity.users.view` → `identity`)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for permission in await identity_service.list_permissions(session):
        groups.setdefault(permission.slug.split(".")[0], []).append((permission.slug, permission.description))
    return sorted(groups.items())


@router.get("/admin/roles", openapi_extra=mirrors("GET /api/roles/"))
async def roles_list(request: Request, user: RolesViewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    view = await fetch_list(
        query,
        lambda page, sort: identity_service.list_roles(session, user.actor, page=page, sort=sort, search=query.q),
    )
    rows = await identity_service.role_reads(session, view.items)
    return render(
        request,
        "pages/admin/roles/list.html",
        {
            "page": view,
            "rows": rows,
            "q": query.q or "",
            "filtered": bool(query.q),
            "can_manage": user.actor.has(identity_perms.ROLES_MANAGE),
        },
        blocks=("results",),
    )


def _role_form_data(form: FormData) -> dict[str, Any]:
    return {
        "name": _text(form, "name"),
        "slug": _text(form, "slug"),
        "description": _text(form, "description"),
        "permissions": [p for p in form.getlist("permissions") if isinstance(p, str)][:500],
    }


def _role_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = forms.form_values(form)
    values["permissions"] = [p for p in form.getlist("permissions") if isinstance(p, str)]
    return values


@router.get("/admin/roles/new", openapi_extra=mirrors("POST /api/roles/", "GET /api/roles/permissions/items"))
async def role_new(request: Request, user: RolesManager, session: ReadSessionDep) -> Response:
    return render(
        request,
        "pages/admin/roles/new.html",
        {"groups": await _permission_groups(session), "values": {"permissions": []}, "errors": forms.FormErrors()},
    )


@router.post("/admin/roles", openapi_extra=mirrors("POST /api/roles/"))
async def role_create(request: Request, user: RolesManager, session: SessionDep) -> Response:
    form = await request.form()
    groups = await _permission_groups(session)
    errors = forms.FormErrors()
    body = _validate(RoleCreate, _role_form_data(form), request, errors)
    status = 422
    if body is not None:
        try:
            role = await identity_service.create_role(session, user.actor, data=body)
        except DepotflowError as exc:
            await session.rollback()
            errors, status = _domain_errors(request, exc)
        else:
            role_id, name = role.id, role.name
            return _redirect(
                request, f"/web/admin/roles/{role_id}", _tr(request, _("Role %(name)s was created."), name=name)
            )
    return render(
        request,
        "pages/admin/roles/new.html",
        {"groups": groups, "values": _role_values(form), "errors": errors},
        status=status,
    )


async def _role_page(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    read: RoleRead,
    *,
    groups: Sequence[tuple[str, list[tuple[str, str]]]] | None = None,
    values: Mapping[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    if groups is None:
        groups = await _permission_groups(session)
    holders: list[UserRead] = []
    if user.actor.has(identity_perms.USERS_VIEW):
        page = await identity_service.list_users(
            session,
            user.actor,
            filters=UserFilter(role_id=read.id),
            page=PageRequest(offset=0, limit=50),
            sort=None,
            search=None,
        )
        holders = [identity_service.user_read(u) for u in page.items]
    default_values = {
        "name": read.name,
        "slug": read.slug,
        "description": read.description,
        "permissions": read.permissions,
    }
    return render(
        request,
        "pages/admin/roles/detail.html",
        {
            "role": read,
            "groups": groups,
            "holders": holders,
            "can_manage": user.actor.has(identity_perms.ROLES_MANAGE),
            "values": values if values is not None else default_values,
            "errors": errors or forms.FormErrors(),
        },
        status=status,
    )


@router.get(
    "/admin/roles/{role_id}", openapi_extra=mirrors("GET /api/roles/{role_id}", "GET /api/roles/permissions/items")
)
async def role_detail(request: Request, role_id: RoleId, user: RolesViewer, session: ReadSessionDep) -> Response:
    role = await identity_service.get_role(session, role_id)
    read = (await identity_service.role_reads(session, [role]))[0]
    return await _role_page(request, session, user, read)


@router.post("/admin/roles/{role_id}", openapi_extra=mirrors("PUT /api/roles/{role_id}"))
async def role_update(request: Request, role_id: RoleId, user: RolesManager, session: SessionDep) -> Response:
    role = await identity_service.get_role(session, role_id)
    before = (await identity_service.role_reads(session, [role]))[0]
    groups = await _permission_groups(session)
    form = await request.form()
    errors = forms.FormErrors()
    body = _validate(RoleUpdate, _role_form_data(form), request, errors)
    status = 422
    if body is not None:
        try:
            await identity_service.update_role(session, user.actor, role_id=role_id, data=body)
        except DepotflowError as exc:
            await session.rollback()
            errors, status = _domain_errors(request, exc)
        else:
            message = _tr(request, _("Role %(name)s was saved."), name=body.name or before.name)
            return _redirect(request, f"/web/admin/roles/{role_id}", message)
    return await _role_page(
        request, session, user, before, groups=groups, values=_role_values(form), errors=errors, status=status
    )


@router.post("/admin/roles/{role_id}/delete", openapi_extra=mirrors("DELETE /api/roles/{role_id}"))
async def role_delete(request: Request, role_id: RoleId, user: RolesManager, session: SessionDep) -> Response:
    role = await identity_service.get_role(session, role_id)
    before = (await identity_service.role_reads(session, [role]))[0]
    groups = await _permission_groups(session)
    try:
        await identity_service.delete_role(session, user.actor, role_id=role_id)
    except DepotflowError as exc:
        await session.rollback()
        errors, status = _domain_errors(request, exc)
        return await _role_page(request, session, user, before, groups=groups, errors=errors, status=status)
    return _redirect(request, "/web/admin/roles", _tr(request, _("Role %(name)s was deleted."), name=before.name))


# --- Audit trail (F11) ----------------------------------------------------------------------------

AUDIT_TEXT_FILTERS = ("action", "username", "entity_type", "entity_id")


def _day_start(raw: str, tz: str, *, next_day: bool = False) -> dt.datetime | None:
    """Midnight of the day `raw` (YYYY-MM-DD) in the UI time zone, as aware UTC; None if malformed."""
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    if next_day:
        if day == dt.date.max:
            return None
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)


def _audit_filter(request: Request) -> tuple[AuditFilter, dict[str, str], forms.FormErrors]:
    """The trail's filters from the URL; a malformed date is reported and left out."""
    params = request.query_params
    tz = ui_state(request).settings.web.timezone
    locale = locale_of(request)
    values = {name: (params.get(name) or "").strip()[:150] for name in (*AUDIT_TEXT_FILTERS, "since", "until")}
    errors = forms.FormErrors()
    since = until = None
    if values["since"]:
        since = _day_start(values["since"], tz)
        if since is None:
            errors.add("since", forms.message_for("date_parsing", locale))
    if values["until"]:
        until = _day_start(values["until"], tz, next_day=True)
        if until is None:
            errors.add("until", forms.message_for("date_parsing", locale))
    text = {name: values[name] or None for name in AUDIT_TEXT_FILTERS}
    return AuditFilter(**text, since=since, until=until), values, errors


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _diff(changes: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) rows of an entry's changes: `{"before": {..}, "after": {..}}` as the
    trail records ORM writes, else each key as a value set."""
    if changes and set(changes) <= {"before", "after"} and all(isinstance(v, dict) for v in changes.values()):
        before, after = changes.get("before", {}), changes.get("after", {})
        return [(key, _shown(before.get(key)), _shown(after.get(key))) for key in sorted(set(before) | set(after))]
    return [(key, "", _shown(value)) for key, value in sorted(changes.items())]


async def _audit_page(
    request: Request,
    session: AsyncSession,
    actor: Actor,
) -> Response:
    query = list_query(request)
    filters, values, errors = _audit_filter(request)
    view = await fetch_list(
        query,
        lambda page, sort: audit_service.list_entries(session, filters=filters, page=page, sort=sort, search=query.q),
    )
    entries = [audit_service.entry_as_dict(e) for e in view.items]
    for entry in entries:
        entry["diff"] = _diff(entry["changes"])
    return render(
        request,
        "pages/admin/audit.html",
        {
            "page": view,
            "entries": entries,
            "actions": await audit_service.list_actions(session),
            "values": values,
            "q": query.q or "",
            "errors": errors,
            "filtered": bool(query.q or any(values.values())),
            "entity_pages": {kind: url for kind, (url, perm) in ENTITY_PAGES.items() if actor.has(perm)},
            "report": None,
            "verified": False,
            "export_url": _export_url(values),
        },
        blocks=("results", "verify-result"),
        status=422 if errors else 200,
    )


@router.get("/admin/audit", openapi_extra=mirrors("GET /api/audit/", "GET /api/audit/actions"))
async def audit_list(request: Request, user: AuditViewer, session: ReadSessionDep) -> Response:
    return await _audit_page(request, session, user.actor)


def _export_url(values: Mapping[str, str]) -> str:
    """The CSV export of the entries the page's filters select."""
    query = urlencode([(name, value) for name, value in values.items() if value])
    return "/web/admin/audit/export.csv" + (f"?{query}" if query else "")


@router.get("/admin/audit/export.csv", openapi_extra=mirrors("GET /api/audit/export.csv"))
async def audit_export(request: Request, user: AuditViewer, session: ReadSessionDep) -> Response:
    """The entries the page's filters select as CSV (UTF-8 with BOM), streamed; a malformed date
    answers the page again with the error rather than exporting more than was asked for."""
    filters, _values, errors = _audit_filter(request)
    if errors:
        return await _audit_page(request, session, user.actor)
    return StreamingResponse(
        _export_chunks(request, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"', "X-Content-Type-Options": "nosniff"},
    )


async def _export_chunks(request: Request, filters: AuditFilter) -> AsyncIterator[bytes]:
    # Its own session: the response is streamed after the request's session has closed.
    async with request.app.state.db.session(write=False) as session:
        async for chunk in audit_service.export_csv(session, filters=filters):
            yield chunk.encode("utf-8")


@router.post("/admin/audit/verify", openapi_extra=mirrors("GET /api/audit/verify"))
async def audit_verify(request: Request, user: AuditViewer, session: ReadSessionDep) -> Response:
    """Walk the hash chain (as `depotflow audit verify` does) and show the result: in place for
    htmx, else as a message on the audit page."""
    report = await audit_service.verify(session)
    if is_htmx(request) and request.headers.get("hx-target") == "verify-result":
        return render(
            request, "pages/admin/audit.html", {"report": report, "verified": True}, blocks=("verify-result",)
        )
    if report.ok:
        message = _tr(
            request,
            _("The audit chain is intact: %(n)s entries checked, up to number %(head)s."),
            n=report.entries_checked,
            head=report.head_seq,
        )
    else:
        problem = report.first_problem
        seq = problem.seq if problem is not None and problem.seq is not None else "—"
        message = _tr(request, _("The audit chain is broken. First problem at entry number %(seq)s."), seq=seq)
    response = RedirectResponse("/web/admin/audit", status_code=303)
    flash(response, request, message, level="success" if report.ok else "error")
    return response


# --- Settings (F12) -------------------------------------------------------------------------------

BRANDING_FIELDS = ("company_name", "company_logo")
ORGANISATION_FIELDS = (
    "legal_name",
    "tax_id",
    "registration_number",
    "address",
    "city",
    "postal_code",
    "country",
    "phone",
    "email",
    "website",
)


def _config_values(config: ConfigRead) -> dict[str, str]:
    return {name: getattr(config, name) or "" for name in (*BRANDING_FIELDS, *ORGANISATION_FIELDS)}


def _settings_page(
    request: Request,
    user: WebUser,
    config: ConfigRead,
    *,
    values: Mapping[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "pages/admin/settings.html",
        {
            "config": config,
            "values": values if values is not None else _config_values(config),
            "errors": errors or forms.FormErrors(),
            "can_change": user.actor.has(config_perms.CHANGE),
        },
        status=status,
    )


# No API route reads the whole configuration with `config.view` (GET /api/config/ is the public
# branding only), so the page is for those who may change it, like the menu entry and the API.
@router.get("/admin/settings", openapi_extra=mirrors("GET /api/config/", "POST /api/config/"))
async def settings_page(request: Request, user: ConfigEditor, session: ReadSessionDep) -> Response:
    return _settings_page(request, user, await config_service.get_config(session))


@router.post("/admin/settings", openapi_extra=mirrors("POST /api/config/"))
async def settings_save(request: Request, user: ConfigEditor, session: SessionDep) -> Response:
    before = await config_service.get_config(session)
    form = await request.form()
    errors = forms.FormErrors()
    data: dict[str, Any] = {"company_name": _text(form, "company_name")}
    data.update({name: _optional(form, name) for name in ("company_logo", *ORGANISATION_FIELDS)})
    body = _validate(ConfigUpdate, data, request, errors)
    status = 422
    if body is not None:
        try:
            await config_service.update_config(session, user.actor, data=body)
        except DepotflowError as exc:
            await session.rollback()
            errors, status = _domain_errors(request, exc)
        else:
            return _redirect(request, "/web/admin/settings", _tr(request, _("The settings were saved.")))
    values = {name: _text(form, name) for name in (*BRANDING_FIELDS, *ORGANISATION_FIELDS)}
    return _settings_page(request, user, before, values=values, errors=errors, status=status)
