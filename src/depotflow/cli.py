"""The `depotflow` command: serve, migrate, create-user, demo, openapi, audit verify, approvals verify,
stock check."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from depotflow import demo, wiring
from depotflow.core import migrate as migrations
from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.errors import DepotflowError
from depotflow.core.logging import configure_logging
from depotflow.core.security import Actor
from depotflow.core.settings import Settings, get_settings
from depotflow.domains.approval import service as approval_service
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import repository as identity_repo_for_cli
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.schemas import UserCreate
from depotflow.domains.stock import service as stock_service


def _context(command: str) -> ChangeContext:
    return ChangeContext(actor=Actor.system("cli"), reason=f"depotflow {command}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    migrations.upgrade(settings.resolved_database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


async def _bootstrap(settings: Settings) -> tuple[str, str] | None:
    wiring.configure()
    db = Database(settings.resolved_database_url)
    try:
        async with db.unit_of_work(_context("serve: first start")) as session:
            password = await identity_service.bootstrap_admin(session)
    finally:
        await db.dispose()
    return None if password is None else ("admin", password)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - only the serve command needs the server

    if not args.no_migrate:
        migrations.upgrade(settings.resolved_database_url)
    created = asyncio.run(_bootstrap(settings))
    if created:
        username, password = created
        banner = "=" * 72
        print(
            f"{banner}\n  First start: an administrator account was created.\n"
            f"  username: {username}\n  password: {password}\n"
            f"  This password is shown once; you will be asked to change it.\n{banner}",
            flush=True,
        )
    uvicorn.run(
        "depotflow.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.http.forwarded_allow_ips,
        server_header=False,
    )
    return 0


async def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    wiring.configure()
    db = Database(settings.resolved_database_url)
    try:
        async with db.unit_of_work(_context("create-user")) as session:
            role_slug = "admin" if args.admin else args.role
            role = await identity_repo_for_cli.find_role_by_slug(session, role_slug) if role_slug else None
            if role_slug and role is None:
                print(f"error: no role with slug '{role_slug}'", file=sys.stderr)
                return 2
            data = UserCreate(username=args.username, password=args.password, role_id=role.id if role else None)
            user = await identity_service.create_user(
                session, Actor.system("cli"), data=data, security=settings.security
            )
            print(json.dumps({"id": user.id, "username": user.username, "role": role_slug}))
    except DepotflowError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_create_user(settings, args))


async def _load_demo(settings: Settings, *, if_empty: bool) -> tuple[demo.DatabaseState, demo.DemoResult | None]:
    wiring.configure()
    db = Database(settings.resolved_database_url)
    try:
        async with db.unit_of_work(_context("demo: demo data")) as session:
            state = await demo.inspect(session)
            if state is demo.DatabaseState.LOADED or (if_empty and state is not demo.DatabaseState.EMPTY):
                return state, None
            result = await demo.load(
                session,
                security=settings.security,
                procurement=settings.procurement,
                secret=settings.resolved_secret_key(),
            )
    finally:
        await db.dispose()
    return state, result


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, create the first administrator (printed once, as `serve` would) and load the demo."""
    if not args.no_migrate:
        migrations.upgrade(settings.resolved_database_url)
    banner = "=" * 72
    created = asyncio.run(_bootstrap(settings))
    if created:
        username, password = created
        print(
            f"{banner}\n  First start: an administrator account was created.\n"
            f"  username: {username}\n  password: {password}\n"
            f"  This password is shown once; you will be asked to change it.\n{banner}",
            flush=True,
        )
    try:
        state, result = asyncio.run(_load_demo(settings, if_empty=args.if_empty))
    except DepotflowError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    if result is None:
        if state is demo.DatabaseState.LOADED:
            print(f"Demo data is already loaded (user '{demo.MARKER_USERNAME}' exists); nothing changed.")
        else:
            print("The database already holds users or companies; demo data not loaded (--if-empty).")
        return 0
    width = max(len(u.username) for u in result.users)
    secret_width = max(len(u.password) for u in result.users)
    rows = "\n".join(
        f"  {u.username:<{width}}  {u.password:<{secret_width}}  {u.role} ({u.name})" for u in result.users
    )
    orders = ", ".join(f"{reference} {state}" for reference, state in result.orders.items())
    print(
        f"{banner}\n  Demo data loaded: a small pharmaceutical plant.\n"
        f"  {'username':<{width}}  {'password':<{secret_width}}  role\n{rows}\n"
        f"  Purchase orders: {orders}.\n"
        f"  These passwords are shown once; demo accounts need not change them.\n{banner}",
        flush=True,
    )
    return 0


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    from depotflow.main import create_app  # noqa: PLC0415 - keeps `depotflow migrate` light

    json.dump(create_app(settings).openapi(), sys.stdout, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


async def _audit_verify(settings: Settings) -> int:
    db = Database(settings.resolved_database_url)
    try:
        async with db.session(write=False) as session:
            report = await audit_service.verify(session)
    finally:
        await db.dispose()
    print(report.model_dump_json(indent=2))
    return 0 if report.ok else 1


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_audit_verify(settings))


async def _stock_check(settings: Settings) -> int:
    db = Database(settings.resolved_database_url)
    try:
        async with db.session(write=False) as session:
            report = await stock_service.check_ledger(session)
    finally:
        await db.dispose()
    print(report.model_dump_json(indent=2))
    return 0 if report.ok else 1


def cmd_stock_check(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_stock_check(settings))


async def _approvals_verify(settings: Settings, flow_id: int | None) -> int:
    wiring.configure()
    db = Database(settings.resolved_database_url)
    secret = settings.resolved_secret_key()
    reports = []
    try:
        async with db.session(write=False) as session:
            ids = [flow_id] if flow_id is not None else await approval_service.all_flow_ids(session)
            for one in ids:
                reports.append(await approval_service.verify_flow(session, flow_id=one, secret=secret))
    except DepotflowError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    broken = [r for r in reports if not r.ok]
    print(
        json.dumps(
            {
                "ok": not broken,
                "flows_checked": len(reports),
                "broken": [r.model_dump(mode="json") for r in broken],
            },
            indent=2,
        )
    )
    return 1 if broken else 0


def cmd_approvals_verify(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_approvals_verify(settings, args.flow))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="depotflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, create the first admin if needed, and serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database first")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)

    create_user = sub.add_parser("create-user", help="create a local user account")
    create_user.add_argument("username")
    create_user.add_argument("--password", required=True)
    group = create_user.add_mutually_exclusive_group()
    group.add_argument("--admin", action="store_true", help="give the account the admin role")
    group.add_argument("--role", help="slug of the role to give the account")
    create_user.set_defaults(func=cmd_create_user)

    demo_cmd = sub.add_parser(
        "demo", help="load a small demo plant (users, suppliers, parts, orders); does nothing if it is there"
    )
    demo_cmd.add_argument(
        "--if-empty", action="store_true", help="load only into a database with no users but the first admin"
    )
    demo_cmd.add_argument("--no-migrate", action="store_true", help="do not upgrade the database first")
    demo_cmd.set_defaults(func=cmd_demo)

    openapi = sub.add_parser("openapi", help="print the OpenAPI document as JSON (needs no database)")
    openapi.add_argument("--pretty", action="store_true")
    openapi.set_defaults(func=cmd_openapi)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain; exit 1 on the first broken entry")
    verify.set_defaults(func=cmd_audit_verify)

    approvals = sub.add_parser("approvals", help="electronic signature tools")
    approvals_sub = approvals.add_subparsers(dest="approvals_command", required=True)
    approvals_verify = approvals_sub.add_parser(
        "verify", help="recompute every signature's seal; exit 1 if any was altered"
    )
    approvals_verify.add_argument("--flow", type=int, default=None, help="only this flow")
    approvals_verify.set_defaults(func=cmd_approvals_verify)

    stock = sub.add_parser("stock", help="stock ledger tools")
    stock_sub = stock.add_subparsers(dest="stock_command", required=True)
    stock_check = stock_sub.add_parser(
        "check", help="recompute balances and lot invariants from the movement ledger; exit 1 on any problem"
    )
    stock_check.set_defaults(func=cmd_stock_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    result: int = args.func(settings, args)
    return result
