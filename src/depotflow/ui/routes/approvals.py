"""UI routes: approvals — the panel fragment, the signature dialog, My approvals, approval templates
(ui.md §5.6, §5.8, A5, F8)."""

import dataclasses
import re
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, RedirectResponse, Response

from depotflow.core.context import set_change_context
from depotflow.core.errors import DepotflowError
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import permissions as approval_perms
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import CLOSED, Decision, OfficerAction, OfficerKind
from depotflow.domains.approval.errors import ContentChanged, SignatureNotFound, UnknownObjectType
from depotflow.domains.approval.schemas import (
    MAX_ID,
    FlowFilter,
    FlowRead,
    TemplateCreate,
    TemplateFilter,
    TemplateRead,
    TemplateUpdate,
)
from depotflow.domains.identity import errors as identity_errors
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.schemas import UserFilter
from depotflow.ui import forms, i18n, labels, signing
from depotflow.ui.approval_panel import (
    OBJECT_EFFECTS,
    RemovalDialog,
    SignatureDialog,
    approval_panel,
    eligibility,
    removal_dialog,
    signature_dialog,
    web_link,
)
from depotflow.ui.listing import fetch_list, list_query
from depotflow.ui.render import flash, is_htmx, locale_of, render, render_fragment, toast_oob, ui_state
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import SignedIn, WebUser, clear_session_cookie, web_requirement
from depotflow.web.deps import ReadSessionDep, SessionDep, change_context, client_ip

router = ui_router()

PathId = Annotated[int, Path(gt=0, le=MAX_ID)]
Viewer = Annotated[WebUser, Depends(web_requirement(approval_perms.VIEW))]
Signer = Annotated[WebUser, Depends(web_requirement(approval_perms.SIGN))]
Withdrawer = Annotated[WebUser, Depends(web_requirement(approval_perms.WITHDRAW))]
TemplateManager = Annotated[WebUser, Depends(web_requirement(approval_perms.TEMPLATES_MANAGE))]

DIGEST = re.compile(r"^[0-9a-f]{64}$")
DIALOG_BLOCKS = ("dialog-content",)
OFFICER_ROWS_MIN = 5
OFFICER_ROWS_MAX = 50
REASON_MAX = 2000
WITHDRAW_API = "DELETE /api/approvals/flows/{flow_id}/signatures/{user_id}"


def _(message: str) -> str:  # marks msgids for extraction; translated with i18n.translate
    return message


def _secret(request: Request) -> str:
    return ui_state(request).settings.resolved_secret_key()


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}


# --- Approval panel ------------------------------------------------------------------------------


@router.get(
    "/approvals/panel/{object_type}/{object_id}",
    openapi_extra=mirrors("GET /api/approvals/flows/object/{object_type}/{object_id}"),
)
async def panel(
    request: Request,
    object_type: Annotated[str, Path(max_length=100)],
    object_id: PathId,
    user: Viewer,
    session: ReadSessionDep,
    stage: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """The approval panel of one object, as a fragment (pages include the same partial)."""
    if object_type not in approval_service.registered_object_types():
        raise UnknownObjectType(f"'{object_type}' is not an approvable object type.")
    found = await approval_panel(
        session, user.actor, object_type=object_type, object_id=object_id, secret=_secret(request), stage=stage
    )
    return render_fragment(
        request,
        "partials/approval_panel.html",
        {"panel": found, "panel_object_type": object_type, "panel_object_id": object_id},
    )


# --- Signature dialog ------------------------------------------------------------------------------


def _decision(raw: str | None) -> Decision | None:
    try:
        return Decision(raw) if raw else None
    except ValueError:
        return None


def _dialog_response(
    request: Request,
    dialog: SignatureDialog,
    *,
    values: dict[str, str] | None = None,
    errors: forms.FormErrors | None = None,
    notice: str | None = None,
    status: int = 200,
    error_code: str | None = None,
) -> Response:
    values = dict(values or {})
    allowed = [d.value for d in dialog.eligibility.decisions]
    if values.get("decision") not in allowed:
        values["decision"] = allowed[0] if allowed else ""
    return render(
        request,
        "pages/approvals/sign.html",
        {
            "dialog": dialog,
            "values": values,
            "errors": errors or forms.FormErrors(),
            "notice": notice,
            "error_code": error_code,
            "standalone": _standalone(request),
        },
        blocks=DIALOG_BLOCKS,
        status=status,
    )


def _standalone(request: Request) -> bool:
    return not (is_htmx(request) and request.headers.get("hx-target") in DIALOG_BLOCKS)


@router.get("/approvals/flows/{flow_id}/sign", openapi_extra=mirrors("GET /api/approvals/flows/{flow_id}/content"))
async def sign_dialog(
    request: Request, flow_id: PathId, user: Viewer, session: ReadSessionDep, decision: str | None = None
) -> Response:
    """The signature dialog: what is signed (content, digest), the effect, meaning, password."""
    ask = await signing.asks_username(session, user.actor)
    dialog = await signature_dialog(session, user.actor, flow_id=flow_id, ask_username=ask)
    chosen = _decision(decision)
    return _dialog_response(request, dialog, values={"decision": chosen.value if chosen else ""})


def _state_text(locale: str, kind: str, slug: str) -> str:
    return i18n.translate(locale, labels.state_msgid(kind, slug))


def _signed_message(locale: str, read: FlowRead, decision: Decision) -> str:
    meaning_msgid = labels.MEANING_LABELS["approved" if decision is Decision.APPROVE else "rejected"]
    meaning = i18n.translate(locale, meaning_msgid)
    effect = OBJECT_EFFECTS.get(read.object_type, {}).get(read.status) if read.status in CLOSED else None
    if effect is not None:
        return i18n.translate(
            locale,
            _("Signed as %(meaning)s. %(title)s is now %(state)s."),
            meaning=meaning,
            title=read.title,
            state=_state_text(locale, *effect),
        )
    return i18n.translate(
        locale,
        _("Signed as %(meaning)s. The approval of %(title)s is now %(state)s."),
        meaning=meaning,
        title=read.title,
        state=_state_text(locale, "approval", read.status),
    )


@router.post("/approvals/flows/{flow_id}/sign", openapi_extra=mirrors("POST /api/approvals/flows/{flow_id}/sign"))
async def sign(
    request: Request, flow_id: PathId, user: Signer, read_session: ReadSessionDep, session: SessionDep
) -> Response:
    """Sign with the re-entered password, over the digest the signer was shown."""
    locale = locale_of(request)
    actor = user.actor
    form = await _form(request)
    values = forms.form_values(form, exclude=("csrf_token", "password", "expected_digest"))
    password = form.get("password", "")
    expected = form.get("expected_digest", "")
    reason = (form.get("reason") or "").strip()
    decision = _decision(form.get("decision"))
    typed_username = (form.get("username") or "").strip()

    ask = await signing.asks_username(session, actor)
    current = await signature_dialog(session, actor, flow_id=flow_id, ask_username=ask)
    if DIGEST.match(expected) and expected != current.content.digest:
        return _changed(request, current, values, locale)

    errors = forms.FormErrors()
    if decision is None:
        errors.add("decision", forms.message_for("enum", locale))
    if decision is Decision.REJECT and not reason:
        errors.add("reason", i18n.translate(locale, _("A rejection needs a reason.")))
    if len(reason) > 2000:
        errors.add("reason", forms.message_for("string_too_long", locale))
    if not password:
        errors.add("password", forms.message_for("missing", locale))
    if len(password) > signing.PASSWORD_MAX:
        errors.add("password", forms.message_for("string_too_long", locale))
    signing.check_username(errors, asked=ask, typed=typed_username, locale=locale)
    if form.get("declaration") != "true":
        errors.add("declaration", i18n.translate(locale, _("Confirm the declaration to sign.")))
    if not DIGEST.match(expected):
        errors.add(None, i18n.translate(locale, _("The dialog is incomplete. Close it and open it again.")))
    if errors:
        return _dialog_response(request, current, values=values, errors=errors, status=422)
    assert decision is not None

    ip = client_ip(request)
    try:
        await signing.verify_signer(
            request,
            read_session,
            session,
            actor,
            password=password,
            username=typed_username if ask else None,
            purpose="the signature",
        )
    except identity_errors.LoginLocked as exc:
        await session.commit()  # the failed attempt and the lock are kept
        return await _locked_out(request, actor, exc, locale)
    except DepotflowError as exc:
        await signing.settle_rejection(session, exc)
        errors = forms.FormErrors()
        if isinstance(exc, signing.SignerRejected):
            if exc.username_wrong:
                errors.add("username", i18n.translate(locale, signing.USERNAME_WRONG))
            if exc.password_wrong:
                errors.add("password", i18n.translate(locale, _("The password is not correct; nothing was signed.")))
        else:
            errors.add(None, forms.message_for(exc.code, locale, fallback=exc.message))
        return _dialog_response(request, current, values=values, errors=errors, status=422, error_code=exc.code)

    try:
        flow = await approval_service.sign(
            session,
            actor,
            flow_id=flow_id,
            decision=decision,
            meaning=None,
            reason=reason or None,
            ip_address=ip,
            user_agent=request.headers.get("user-agent"),
            secret=_secret(request),
            expected_digest=expected,
        )
        read = (await approval_service.flow_reads(session, [flow]))[0]
        await signing.record_identified(session, actor, asked=ask, flow_id=flow_id)
        await session.commit()
    except ContentChanged:
        await session.rollback()
        fresh = await signature_dialog(session, actor, flow_id=flow_id, ask_username=ask)
        return _changed(request, fresh, values, locale)
    except DepotflowError as exc:
        await session.rollback()
        fresh = await signature_dialog(session, actor, flow_id=flow_id, ask_username=ask)
        errors = forms.FormErrors()
        reason_text = fresh.eligibility.why_not
        errors.add(None, i18n.translate(locale, reason_text) if reason_text else exc.message)
        return _dialog_response(request, fresh, values=values, errors=errors, status=exc.status, error_code=exc.code)

    message = _signed_message(locale, read, decision)
    target = web_link(read.object_type, read.object_id, None) or current.content.link or "/web/approvals"
    return _done(request, message, target)


def _done(request: Request, message: str, target: str) -> Response:
    """A sign or a removal went through."""
    if is_htmx(request):
        # No page reload: the dialog closes, the toast says what happened, and app.js re-reads the
        # page's main region (state badge, approval panel, history) in place.
        body = f'<div data-df-close></div><div hx-swap-oob="beforeend:#toasts">{toast_oob(request, message)}</div>'
        return HTMLResponse(body, headers={"HX-Trigger-After-Settle": "df:refresh-main", "Cache-Control": "no-store"})
    response: Response = RedirectResponse(target, status_code=303)
    flash(response, request, message)
    return response


def _changed(request: Request, dialog: SignatureDialog, values: dict[str, str], locale: str) -> Response:
    notice = i18n.translate(
        locale, _("%(title)s changed since you opened this dialog. Review it again."), title=dialog.content.title
    )
    return _dialog_response(request, dialog, values=values, notice=notice, status=409)


async def _locked_out(
    request: Request, actor: Actor, exc: DepotflowError, locale: str, *, removal: bool = False
) -> Response:
    """Too many wrong passwords: the account is locked and this browser session ends."""
    async with request.app.state.db.session(write=True) as session:
        set_change_context(session.sync_session, lambda: change_context(request, actor))
        await identity_service.logout(session, actor)
        await session.commit()
    seconds = int(exc.headers.get("Retry-After", "60"))
    minutes = max(1, (seconds + 59) // 60)
    if is_htmx(request):
        response: Response = Response(status_code=200, headers={"HX-Redirect": "/web/login"})
    else:
        response = RedirectResponse("/web/login", status_code=303)
    clear_session_cookie(response, ui_state(request).settings)
    message = (
        _(
            "Too many wrong passwords: no signature was removed, your account is locked for %(minutes)s minutes "
            "and you were signed out."
        )
        if removal
        else _(
            "Too many wrong passwords: nothing was signed, your account is locked for %(minutes)s minutes "
            "and you were signed out."
        )
    )
    flash(response, request, i18n.translate(locale, message, minutes=minutes), level="error")
    return response


# --- Removing a signature (a reason dialog with the password, ui.md §5.5, §5.8) ------------------------


def _removal_response(
    request: Request,
    dialog: RemovalDialog,
    *,
    values: dict[str, str] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
    error_code: str | None = None,
) -> Response:
    return render(
        request,
        "pages/approvals/remove.html",
        {
            "dialog": dialog,
            "values": values or {},
            "errors": errors or forms.FormErrors(),
            "error_code": error_code,
            "standalone": _standalone(request),
        },
        blocks=DIALOG_BLOCKS,
        status=status,
    )


@router.get("/approvals/flows/{flow_id}/signatures/{user_id}/remove", openapi_extra=mirrors(WITHDRAW_API))
async def remove_dialog(
    request: Request, flow_id: PathId, user_id: PathId, user: Withdrawer, session: ReadSessionDep
) -> Response:
    """The removal dialog: whose signature, what it said, what the flow becomes; reason and password."""
    return _removal_response(request, await removal_dialog(session, user.actor, flow_id=flow_id, user_id=user_id))


@router.post("/approvals/flows/{flow_id}/signatures/{user_id}/remove", openapi_extra=mirrors(WITHDRAW_API))
async def remove_signature(
    request: Request,
    flow_id: PathId,
    user_id: PathId,
    user: Withdrawer,
    read_session: ReadSessionDep,
    session: SessionDep,
) -> Response:
    """Withdraw a user's signature with a reason and the remover's re-entered password; the signature
    stays in the record, marked withdrawn (who, when, why)."""
    locale = locale_of(request)
    actor = user.actor
    form = await _form(request)
    values = forms.form_values(form, exclude=("csrf_token", "password"))
    password = form.get("password", "")
    reason = (form.get("reason") or "").strip()
    current = await removal_dialog(session, actor, flow_id=flow_id, user_id=user_id)  # 404: never signed

    errors = forms.FormErrors()
    if not reason:
        errors.add("reason", forms.message_for("missing", locale))
    if len(reason) > REASON_MAX:
        errors.add("reason", forms.message_for("string_too_long", locale))
    if not password:
        errors.add("password", forms.message_for("missing", locale))
    if len(password) > signing.PASSWORD_MAX:
        errors.add("password", forms.message_for("string_too_long", locale))
    if errors:
        return _removal_response(request, current, values=values, errors=errors, status=422)

    # Not a signing (see `depotflow.ui.signing`): the password alone, and the session is not marked
    # as identified.
    try:
        await signing.verify_signer(
            request,
            read_session,
            session,
            actor,
            password=password,
            username=None,
            purpose="the removal of the signature",
        )
    except identity_errors.LoginLocked as exc:
        await session.commit()  # the failed attempt and the lock are kept
        return await _locked_out(request, actor, exc, locale, removal=True)
    except DepotflowError as exc:
        await signing.settle_rejection(session, exc)
        errors = forms.FormErrors()
        if isinstance(exc, signing.SignerRejected):
            message = _("The password is not correct; the signature was not removed.")
            errors.add("password", i18n.translate(locale, message))
        else:
            errors.add(None, forms.message_for(exc.code, locale, fallback=exc.message))
        return _removal_response(request, current, values=values, errors=errors, status=422, error_code=exc.code)

    # The audit entries of the withdrawal carry its reason (the "why" of the trail).
    set_change_context(
        session.sync_session, lambda: dataclasses.replace(change_context(request, actor), reason=reason[:1000])
    )
    try:
        flow = await approval_service.withdraw_signature(
            session, actor, flow_id=flow_id, user_id=user_id, reason=reason, secret=_secret(request)
        )
        read = (await approval_service.flow_reads(session, [flow]))[0]
        await session.commit()
    except DepotflowError as exc:
        await session.rollback()
        if exc.status in (401, 403):
            raise
        # Refused by the domain: the owning object keeps its signatures, the flow was cancelled, or
        # the signature was already withdrawn (the domain finds no active one; that the user signed
        # was checked above, so this is a conflict with the record, not an unknown address).
        fresh = await removal_dialog(session, actor, flow_id=flow_id, user_id=user_id)
        errors = forms.FormErrors()
        if isinstance(exc, SignatureNotFound):
            errors.add(None, i18n.translate(locale, _("This signature was already withdrawn.")))
        else:
            errors.add(None, forms.message_for(exc.code, locale, fallback=exc.message))
        status = 409 if exc.status in (404, 409) else exc.status
        return _removal_response(request, fresh, values=values, errors=errors, status=status, error_code=exc.code)

    message = i18n.translate(
        locale,
        _("The signature of %(name)s was removed. The approval of %(title)s is now %(state)s."),
        name=current.signature.full_name,
        title=read.title,
        state=_state_text(locale, "approval", read.status),
    )
    return _done(request, message, current.link or "/web/approvals")


# --- My approvals ------------------------------------------------------------------------------------

RECENT_FLOWS_SCANNED = 200
RECENT_SIGNED_SHOWN = 20


@router.get("/approvals", openapi_extra=mirrors("GET /api/auth/me", "GET /api/approvals/pending"))
async def inbox(request: Request, user: SignedIn, session: ReadSessionDep) -> Response:
    """Flows waiting for my signature, and the flows I signed recently (every signed-in user has the
    page, as the menu shows it to all; the lists need the permissions of their API routes)."""
    actor = user.actor
    can_sign = actor.has(approval_perms.SIGN)
    can_view = actor.has(approval_perms.VIEW)
    waiting_flows = await approval_service.list_waiting_for(session, actor) if can_sign else []
    waiting_reads = await approval_service.flow_reads(session, waiting_flows)
    rows = []
    for flow, read in zip(waiting_flows, waiting_reads, strict=True):
        allowed = await eligibility(session, actor, flow, read.signatures)
        slot = next(iter(allowed.slots.values()), None)
        rows.append(
            {
                "flow": read,
                "link": web_link(read.object_type, read.object_id),
                "action": slot.action.value if slot is not None else None,
                "required_done": sum(
                    1
                    for o in read.officers
                    if o.action is OfficerAction.MUST_SIGN
                    and any(s.slot == o.slot and s.withdrawn_at is None for s in read.signatures)
                ),
                "required_total": sum(1 for o in read.officers if o.action is OfficerAction.MUST_SIGN),
                "can_sign": allowed.can_sign and can_view,
            }
        )
    recent_flows = []
    if can_view and actor.user_id is not None:
        recent_page = await approval_service.list_flows(
            session,
            filters=FlowFilter(),
            page=PageRequest(offset=0, limit=RECENT_FLOWS_SCANNED),
            sort="-updated_at",
            search=None,
        )
        recent_flows = list(recent_page.items)
    recent: list[dict[str, Any]] = []
    for read in await approval_service.flow_reads(session, recent_flows):
        mine = [s for s in read.signatures if s.user_id == actor.user_id]
        if mine:
            recent.append({"flow": read, "signature": mine[-1], "link": web_link(read.object_type, read.object_id)})
    recent.sort(key=lambda r: (r["signature"].signed_at, r["signature"].id), reverse=True)
    return render(
        request,
        "pages/approvals/inbox.html",
        {"rows": rows, "recent": recent[:RECENT_SIGNED_SHOWN], "can_sign": can_sign, "can_view": can_view},
    )


# --- Approval templates (admin) ----------------------------------------------------------------------


async def _people(session: AsyncSession, actor: Actor) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    everything = PageRequest(offset=0, limit=None)
    users = await identity_service.list_users(
        session, actor, filters=UserFilter(is_active=True), page=everything, sort="username", search=None
    )
    roles = await identity_service.list_roles(session, actor, page=everything, sort="name", search=None)
    return (
        [(f"user:{u.id}", f"{u.full_name} ({u.username})" if u.full_name else u.username) for u in users.items],
        [(f"role:{r.id}", r.name) for r in roles.items],
    )


def _template_values(template: TemplateRead) -> dict[str, str]:
    values = {
        "object_type": template.object_type,
        "stage": template.stage,
        "name": template.name,
        "description": template.description,
        "min_signatures": str(template.min_signatures),
        "sequential": "true" if template.sequential else "",
        "is_active": "true" if template.is_active else "",
    }
    for o in template.officers:
        ref = o.user_id if o.kind is OfficerKind.USER else o.role_id
        values[f"officers-{o.slot}-who"] = f"{o.kind.value}:{ref}"
        values[f"officers-{o.slot}-action"] = o.action.value
    return values


def _row_count(values: dict[str, str]) -> int:
    used = [int(m.group(1)) for k in values if (m := re.match(r"^officers-(\d+)-who$", k)) and values[k]]
    return min(OFFICER_ROWS_MAX, max(OFFICER_ROWS_MIN, (max(used) + 3) if used else 0))


async def _template_form(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    *,
    template: TemplateRead | None,
    values: dict[str, str],
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    users, roles = await _people(session, actor)
    return render(
        request,
        "pages/approvals/template_form.html",
        {
            "template": template,
            "values": values,
            "errors": errors or forms.FormErrors(),
            "object_types": approval_service.registered_object_types(),
            "user_options": users,
            "role_options": roles,
            "row_count": _row_count(values),
            "can_manage": actor.has(approval_perms.TEMPLATES_MANAGE),
        },
        status=status,
    )


def _parse_officers(values: dict[str, str], locale: str, errors: forms.FormErrors) -> tuple[list[Any], list[int]]:
    """Officer rows in row order (blank rows skipped); also each kept officer's row number."""
    officers: list[dict[str, Any]] = []
    rows: list[int] = []
    for i in range(OFFICER_ROWS_MAX):
        who = (values.get(f"officers-{i}-who") or "").strip()
        if not who:
            continue
        match = re.match(r"^(user|role):(\d{1,18})$", who)
        action = values.get(f"officers-{i}-action") or ""
        if match is None:
            errors.add(f"officers-{i}-who", forms.message_for("enum", locale))
            continue
        if action not in (OfficerAction.MUST_SIGN.value, OfficerAction.CAN_SIGN.value):
            errors.add(f"officers-{i}-action", forms.message_for("enum", locale))
            continue
        kind, ref = match.group(1), int(match.group(2))
        officers.append({"kind": kind, f"{kind}_id": ref, "action": action})
        rows.append(i)
    if not officers and not errors.fields:
        errors.add("officers-0-who", i18n.translate(locale, _("Name at least one officer.")))
    return officers, rows


def _validation_errors(exc: ValidationError, rows: list[int], locale: str) -> forms.FormErrors:
    errors = forms.FormErrors()
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        message = forms.message_for(str(err.get("type")), locale)
        if loc and loc[0] == "officers" and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(rows):
            errors.add(f"officers-{rows[loc[1]]}-who", message)
        else:
            errors.add(forms.field_name(tuple(loc)), message)
    return errors


def _int_field(values: dict[str, str], name: str, locale: str, errors: forms.FormErrors) -> int | None:
    raw = (values.get(name) or "0").strip() or "0"
    if not re.fullmatch(r"\d{1,3}", raw):
        errors.add(name, forms.message_for("int_parsing", locale))
        return None
    return int(raw)


@router.get("/admin/approval-templates", openapi_extra=mirrors("GET /api/approvals/templates"))
async def templates(request: Request, user: Viewer, session: ReadSessionDep) -> Response:
    """Approval templates: who must or may sign objects of a type and stage."""
    query = list_query(request, default_sort="name")
    view = await fetch_list(
        query,
        lambda page, sort: approval_service.list_templates(
            session, filters=TemplateFilter(), page=page, sort=sort, search=query.q
        ),
    )
    reads = await approval_service.template_reads(session, list(view.items))
    return render(
        request,
        "pages/approvals/templates.html",
        {
            "page": view,
            "templates": reads,
            "query": query,
            "can_manage": user.actor.has(approval_perms.TEMPLATES_MANAGE),
        },
        blocks=("results",),
    )


@router.get("/admin/approval-templates/new", openapi_extra=mirrors("POST /api/approvals/templates"))
async def new_template(request: Request, user: TemplateManager, session: ReadSessionDep) -> Response:
    return await _template_form(request, session, user.actor, template=None, values={"is_active": "true"})


@router.post("/admin/approval-templates", openapi_extra=mirrors("POST /api/approvals/templates"))
async def create_template(request: Request, user: TemplateManager, session: SessionDep) -> Response:
    locale = locale_of(request)
    values = forms.form_values(await _form(request))
    errors = forms.FormErrors()
    officers, rows = _parse_officers(values, locale, errors)
    min_signatures = _int_field(values, "min_signatures", locale, errors)
    data: TemplateCreate | None = None
    if not errors:
        try:
            data = TemplateCreate.model_validate(
                {
                    "object_type": values.get("object_type", ""),
                    "stage": values.get("stage", ""),
                    "name": values.get("name", ""),
                    "description": values.get("description", ""),
                    "officers": officers,
                    "min_signatures": min_signatures,
                    "sequential": values.get("sequential") == "true",
                    "is_active": values.get("is_active") == "true",
                }
            )
        except ValidationError as exc:
            errors = _validation_errors(exc, rows, locale)
    if data is not None:
        try:
            template = await approval_service.create_template(session, user.actor, data=data)
            await session.commit()
        except DepotflowError as exc:
            await session.rollback()
            errors = forms.from_domain(exc, locale)
            status = exc.status
        else:
            response = RedirectResponse(f"/web/admin/approval-templates/{template.id}", status_code=303)
            flash(
                response, request, i18n.translate(locale, _("Approval template %(name)s created."), name=template.name)
            )
            return response
    else:
        status = 422
    return await _template_form(
        request, session, user.actor, template=None, values=values, errors=errors, status=status
    )


@router.get(
    "/admin/approval-templates/{template_id}", openapi_extra=mirrors("GET /api/approvals/templates/{template_id}")
)
async def template_detail(request: Request, template_id: PathId, user: Viewer, session: ReadSessionDep) -> Response:
    template = await approval_service.template_read(session, await approval_service.get_template(session, template_id))
    return await _template_form(request, session, user.actor, template=template, values=_template_values(template))


@router.post(
    "/admin/approval-templates/{template_id}", openapi_extra=mirrors("PUT /api/approvals/templates/{template_id}")
)
async def update_template(
    request: Request, template_id: PathId, user: TemplateManager, session: SessionDep
) -> Response:
    locale = locale_of(request)
    template = await approval_service.template_read(session, await approval_service.get_template(session, template_id))
    values = forms.form_values(await _form(request))
    values["object_type"], values["stage"] = template.object_type, template.stage  # fixed once created
    errors = forms.FormErrors()
    officers, rows = _parse_officers(values, locale, errors)
    min_signatures = _int_field(values, "min_signatures", locale, errors)
    data: TemplateUpdate | None = None
    status = 422
    if not errors:
        try:
            data = TemplateUpdate.model_validate(
                {
                    "name": values.get("name", ""),
                    "description": values.get("description", ""),
                    "officers": officers,
                    "min_signatures": min_signatures,
                    "sequential": values.get("sequential") == "true",
                    "is_active": values.get("is_active") == "true",
                }
            )
        except ValidationError as exc:
            errors = _validation_errors(exc, rows, locale)
    if data is not None:
        try:
            updated = await approval_service.update_template(session, user.actor, template_id=template_id, data=data)
            await session.commit()
        except DepotflowError as exc:
            await session.rollback()
            errors = forms.from_domain(exc, locale)
            status = exc.status
        else:
            response = RedirectResponse(f"/web/admin/approval-templates/{updated.id}", status_code=303)
            flash(response, request, i18n.translate(locale, _("Approval template %(name)s saved."), name=updated.name))
            return response
    return await _template_form(
        request, session, user.actor, template=template, values=values, errors=errors, status=status
    )


@router.post(
    "/admin/approval-templates/{template_id}/retire",
    openapi_extra=mirrors("DELETE /api/approvals/templates/{template_id}"),
)
async def retire_template(
    request: Request, template_id: PathId, user: TemplateManager, session: SessionDep
) -> Response:
    locale = locale_of(request)
    template = await approval_service.get_template(session, template_id)
    name = template.name
    deleted = await approval_service.retire_template(session, user.actor, template_id=template_id)
    response = RedirectResponse("/web/admin/approval-templates", status_code=303)
    message = (
        _("Approval template %(name)s deleted.")
        if deleted
        else _("Approval template %(name)s deactivated; flows started from it keep their officers.")
    )
    flash(response, request, i18n.translate(locale, message, name=name))
    return response
