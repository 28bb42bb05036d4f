"""I/O models of the file domain."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_ID = 2**63 - 1
ENTITY_TYPE_PATTERN = r"^[a-z][a-z0-9_.]*$"
EntityType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=ENTITY_TYPE_PATTERN)
]


class FileRead(BaseModel):
    """A stored file's metadata; the bytes are at `content_url`."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    entity_type: str | None
    entity_id: int | None
    description: str
    uploaded_by_id: int | None
    uploaded_at: datetime
    content_url: str


class FileFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    entity_type: EntityType | None = None
    entity_id: int | None = Field(default=None, gt=0, le=MAX_ID)
