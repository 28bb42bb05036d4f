"""Native routes of identity: /api/auth, /api/users, /api/roles."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from depotflow.core.security import Actor
from depotflow.domains.identity import permissions
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.schemas import (
    MAX_ID,
    LoginLockRead,
    LoginRequest,
    LoginResponse,
    Me,
    PasswordChange,
    PasswordReset,
    PermissionRead,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    SessionRead,
    SessionsRevoke,
    SessionsRevoked,
    Shortcuts,
    StaffStatus,
    UnlockRequest,
    UserCreate,
    UserFilter,
    UserRead,
    UserUpdate,
    VerifyResponse,
)
from depotflow.web.deps import (
    AuthenticatedActor,
    ListEnvelope,
    ListParamsDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    client_ip,
    envelope,
    require,
)

UsersViewer = Annotated[Actor, Depends(require(permissions.USERS_VIEW))]
UsersManager = Annotated[Actor, Depends(require(permissions.USERS_MANAGE))]
RolesViewer = Annotated[Actor, Depends(require(permissions.ROLES_VIEW))]
RolesManager = Annotated[Actor, Depends(require(permissions.ROLES_MANAGE))]
UserId = Annotated[int, Path(gt=0, le=MAX_ID)]
RoleId = Annotated[int, Path(gt=0, le=MAX_ID)]
SessionId = Annotated[int, Path(gt=0, le=MAX_ID)]


auth_router = APIRouter(prefix="/api/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/users", tags=["users"])
roles_router = APIRouter(prefix="/api/roles", tags=["roles"])


async def current_principal(request: Request, _actor: AuthenticatedActor) -> identity_service.Principal:
    principal: identity_service.Principal = request.state.principal
    return principal


CurrentPrincipal = Annotated[identity_service.Principal, Depends(current_principal)]


@auth_router.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, read_session: ReadSessionDep, session: SessionDep, settings: SettingsDep
) -> LoginResponse:
    """Exchange a username and password for a bearer token."""
    check = await identity_service.check_login(
        read_session,
        username=body.username,
        password=body.password,
        ip_address=client_ip(request),
        identity=settings.identity,
    )
    result = await identity_service.complete_login(
        session,
        check,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        security=settings.security,
        identity=settings.identity,
    )
    user_view = identity_service.user_read(result.user)
    return LoginResponse(
        token=result.token,
        expires_at=result.expires_at,
        username=user_view.username,
        name=user_view.name,
        is_staff=user_view.is_staff,
        must_change_password=user_view.must_change_password,
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(actor: AuthenticatedActor, session: SessionDep) -> Response:
    """Revoke the token used for this request."""
    await identity_service.logout(session, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/me", response_model=Me)
async def get_me(principal: CurrentPrincipal) -> Me:
    """The current user, their role and permissions."""
    return identity_service.me(principal)


@auth_router.get("/verify", response_model=VerifyResponse)
async def verify_token(principal: CurrentPrincipal) -> VerifyResponse:
    """Answer 200 for a valid token (an invalid one gets 401, never `valid: false`)."""
    actor = principal.actor
    return VerifyResponse(valid=True, username=actor.username, name=actor.display_name, is_staff=actor.is_admin)


@auth_router.post("/refresh-status", response_model=StaffStatus)
async def refresh_status(
    request: Request, actor: AuthenticatedActor, session: SessionDep, settings: SettingsDep
) -> StaffStatus:
    """Re-read the staff flag from the identity server (InvenTree mode) or return the stored one."""
    raw = identity_service.parse_authorization(request.headers.get("authorization"))
    is_staff, source = await identity_service.refresh_staff_status(
        session, actor, raw_token=raw, identity=settings.identity
    )
    return StaffStatus(
        username=actor.username, is_staff=is_staff, source=source, message="Staff status updated successfully"
    )


@auth_router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, actor: AuthenticatedActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """Change one's own password; other sessions of the account are logged out."""
    await identity_service.change_own_password(
        session,
        actor,
        current_password=body.current_password,
        new_password=body.new_password,
        security=settings.security,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/sessions", response_model=list[SessionRead])
async def list_my_sessions(actor: AuthenticatedActor, session: SessionDep) -> list[SessionRead]:
    """The current user's live sessions and tokens, newest first; `current` marks this request's."""
    return await identity_service.list_sessions(session, user_id=actor.user_id or 0, current_token_id=actor.token_id)


@auth_router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_my_session(session_id: SessionId, actor: AuthenticatedActor, session: SessionDep) -> Response:
    """End one of the current user's other sessions (409 for the one in use: log out instead)."""
    await identity_service.revoke_own_session(session, actor, token_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.get("/dashboard/shortcuts", response_model=Shortcuts)
async def get_dashboard_shortcuts(actor: AuthenticatedActor, session: SessionDep) -> Shortcuts:
    """The dashboard configured for the user's role: form shortcuts and links."""
    return await identity_service.dashboard_shortcuts(session, actor)


@users_router.get("/", response_model=ListEnvelope[UserRead])
async def list_users(
    actor: UsersViewer,
    session: SessionDep,
    params: ListParamsDep,
    filters: Annotated[UserFilter, Query()],
) -> ListEnvelope[UserRead]:
    """Users with their role and last login. Sortable: username, last_login_at, created_at, first_name, last_name."""
    page = await identity_service.list_users(
        session, actor, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [identity_service.user_read(u) for u in page.items])


@users_router.post("/", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, actor: UsersManager, session: SessionDep, settings: SettingsDep) -> UserRead:
    """Create a local account."""
    user = await identity_service.create_user(session, actor, data=body, security=settings.security)
    return identity_service.user_read(user)


@users_router.get("/{user_id}", response_model=UserRead)
async def get_user(user_id: UserId, actor: UsersViewer, session: SessionDep) -> UserRead:
    """One account."""
    return identity_service.user_read(await identity_service.get_user(session, user_id))


@users_router.put("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: UserId, body: UserUpdate, actor: UsersManager, session: SessionDep, settings: SettingsDep
) -> UserRead:
    """Change an account; only the fields sent are changed."""
    user = await identity_service.update_user(session, actor, user_id=user_id, data=body, security=settings.security)
    return identity_service.user_read(user)


@users_router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: UserId, actor: UsersManager, session: SessionDep) -> Response:
    """Deactivate an account and revoke its tokens; accounts are never erased."""
    await identity_service.deactivate_user(session, actor, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users_router.get("/{user_id}/lock", response_model=LoginLockRead)
async def get_user_lock(user_id: UserId, actor: UsersViewer, session: SessionDep) -> LoginLockRead:
    """Whether sign-in is locked for the account after failed attempts, and until when."""
    return await identity_service.lock_status(session, user_id=user_id)


@users_router.post("/{user_id}/unlock", response_model=LoginLockRead)
async def unlock_user(user_id: UserId, body: UnlockRequest, actor: UsersManager, session: SessionDep) -> LoginLockRead:
    """Lift a lock left by failed sign-ins (409 `identity.user_not_locked` when there is none)."""
    return await identity_service.unlock_user(session, actor, user_id=user_id, reason=body.reason)


@users_router.post("/{user_id}/password-reset", response_model=UserRead)
async def reset_user_password(
    user_id: UserId, body: PasswordReset, actor: UsersManager, session: SessionDep, settings: SettingsDep
) -> UserRead:
    """Set a temporary password: the user must change it at the next sign-in; all their sessions end."""
    user = await identity_service.reset_password(
        session,
        actor,
        user_id=user_id,
        temporary_password=body.temporary_password,
        reason=body.reason,
        security=settings.security,
    )
    return identity_service.user_read(user)


@users_router.get("/{user_id}/sessions", response_model=list[SessionRead])
async def list_user_sessions(user_id: UserId, actor: UsersViewer, session: SessionDep) -> list[SessionRead]:
    """The account's live sessions and tokens, newest first."""
    return await identity_service.list_sessions(session, user_id=user_id, current_token_id=actor.token_id)


@users_router.post("/{user_id}/sessions/revoke", response_model=SessionsRevoked)
async def revoke_user_sessions(
    user_id: UserId, body: SessionsRevoke, actor: UsersManager, session: SessionDep
) -> SessionsRevoked:
    """End every session and token of the account (one's own: all but the one in use)."""
    revoked = await identity_service.revoke_sessions(session, actor, user_id=user_id, reason=body.reason)
    return SessionsRevoked(revoked=revoked)


@roles_router.get("/", response_model=ListEnvelope[RoleRead])
async def list_roles(actor: RolesViewer, session: SessionDep, params: ListParamsDep) -> ListEnvelope[RoleRead]:
    """Roles with their permissions and how many users hold them. Sortable: name, slug, created_at."""
    page = await identity_service.list_roles(session, actor, page=params.page, sort=params.sort, search=params.search)
    return envelope(page, await identity_service.role_reads(session, page.items))


@roles_router.post("/", response_model=RoleRead, status_code=status.HTTP_201_CREATED)
async def create_role(body: RoleCreate, actor: RolesManager, session: SessionDep) -> RoleRead:
    """Create a role."""
    role = await identity_service.create_role(session, actor, data=body)
    return (await identity_service.role_reads(session, [role]))[0]


@roles_router.get("/permissions/items", response_model=ListEnvelope[PermissionRead])
async def list_permission_items(actor: RolesViewer, session: SessionDep) -> ListEnvelope[PermissionRead]:
    """The permission catalogue roles draw from."""
    items = [PermissionRead.model_validate(p) for p in await identity_service.list_permissions(session)]
    return ListEnvelope[PermissionRead](items=items, total=len(items), offset=0, limit=None)


@roles_router.get("/{role_id}", response_model=RoleRead)
async def get_role(role_id: RoleId, actor: RolesViewer, session: SessionDep) -> RoleRead:
    """One role."""
    role = await identity_service.get_role(session, role_id)
    return (await identity_service.role_reads(session, [role]))[0]


@roles_router.put("/{role_id}", response_model=RoleRead)
async def update_role(role_id: RoleId, body: RoleUpdate, actor: RolesManager, session: SessionDep) -> RoleRead:
    """Change a role; only the fields sent are changed."""
    role = await identity_service.update_role(session, actor, role_id=role_id, data=body)
    return (await identity_service.role_reads(session, [role]))[0]


@roles_router.delete("/{role_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(role_id: RoleId, actor: RolesManager, session: SessionDep) -> Response:
    """Delete a role that no user holds."""
    await identity_service.delete_role(session, actor, role_id=role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
