"""Assembles the native API (/api/...) from the domain routers."""

from fastapi import APIRouter, FastAPI

from depotflow.api import system
from depotflow.domains.approval import router as approval_router
from depotflow.domains.audit import router as audit_router
from depotflow.domains.company import router as company_router
from depotflow.domains.config import router as config_router
from depotflow.domains.file import router as file_router
from depotflow.domains.identity import router as identity_router
from depotflow.domains.part import router as part_router
from depotflow.domains.procurement import router as procurement_router
from depotflow.domains.stock import router as stock_router


def include_routers(app: FastAPI) -> None:
    app.include_router(system.router)
    app.include_router(identity_router.auth_router)
    app.include_router(identity_router.users_router)
    app.include_router(identity_router.roles_router)
    app.include_router(audit_router.router)
    app.include_router(config_router.router)
    app.include_router(approval_router.router)
    app.include_router(file_router.router)
    inventory = APIRouter(prefix="/modules/inventory/api")
    inventory.include_router(part_router.router)
    inventory.include_router(company_router.router)
    inventory.include_router(stock_router.router)
    app.include_router(inventory)
    app.include_router(procurement_router.router, prefix="/modules/depo_procurement/api")
