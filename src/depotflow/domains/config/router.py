"""Native routes of config: /api/config."""

from typing import Annotated

from fastapi import APIRouter, Depends

from depotflow.core.security import Actor
from depotflow.domains.config import permissions
from depotflow.domains.config import service as config_service
from depotflow.domains.config.schemas import Branding, ConfigRead, ConfigUpdate
from depotflow.web.deps import SessionDep, require

ConfigEditor = Annotated[Actor, Depends(require(permissions.CHANGE))]

router = APIRouter(prefix="/api/config", tags=["config"])


@router.get("/", response_model=Branding)
async def get_branding(session: SessionDep) -> Branding:
    """Public branding: company name and logo; nothing else is exposed here."""
    return await config_service.get_branding(session)


@router.post("/", response_model=ConfigRead)
async def update_config(body: ConfigUpdate, actor: ConfigEditor, session: SessionDep) -> ConfigRead:
    """Set branding and organisation settings; only known keys are accepted."""
    return await config_service.update_config(session, actor, data=body)
