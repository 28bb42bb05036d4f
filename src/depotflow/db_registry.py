"""Imports every domain's models so the metadata and mappers are complete."""

from depotflow.core.orm import Base
from depotflow.domains.approval import models as approval_models
from depotflow.domains.audit import models as audit_models
from depotflow.domains.company import models as company_models
from depotflow.domains.config import models as config_models
from depotflow.domains.file import models as file_models
from depotflow.domains.identity import models as identity_models
from depotflow.domains.part import models as part_models
from depotflow.domains.procurement import models as procurement_models
from depotflow.domains.stock import models as stock_models

MODEL_MODULES = (
    audit_models,
    identity_models,
    config_models,
    file_models,
    part_models,
    approval_models,
    company_models,
    stock_models,
    procurement_models,
)

metadata = Base.metadata
