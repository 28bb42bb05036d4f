"""Size limits: the upload limit (413 file.too_large) and the HTTP body limit in front of it; nothing stored."""

from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from tests.conftest import make_settings
from tests.factories.audit import entry_count
from tests.factories.file import blob_path, counts, on_disk, upload
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

UPLOAD_LIMIT = 1000
BODY_LIMIT = 8192


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(
        tmp_path, db_url, storage={"max_upload_bytes": UPLOAD_LIMIT}, http={"max_body_bytes": BODY_LIMIT}
    )


def _store(settings: Settings) -> Path:
    return settings.data_dir / "files"


async def test_a_file_above_the_upload_limit_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=["file.upload"])
    audit_before = await entry_count(database)

    response = await upload(client, user.headers, b"x" * (UPLOAD_LIMIT + 1), "big.txt")

    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "file.too_large"
    assert response.json()["details"] == {"max_bytes": UPLOAD_LIMIT}
    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == []


async def test_a_file_of_exactly_the_limit_is_accepted(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=["file.upload"])

    response = await upload(client, user.headers, b"x" * UPLOAD_LIMIT, "full.txt")

    assert response.status_code == 201, response.text
    assert response.json()["size"] == UPLOAD_LIMIT
    assert on_disk(_store(settings)) == [blob_path(response.json()["sha256"])]


async def test_a_body_above_the_http_limit_is_refused_before_the_upload_is_read(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=["file.upload"])
    audit_before = await entry_count(database)

    response = await upload(client, user.headers, b"x" * BODY_LIMIT, "huge.txt")

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "request.too_large"
    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == []


def test_the_default_body_limit_leaves_room_for_the_largest_upload() -> None:
    defaults = Settings(env="test")

    assert defaults.storage.max_upload_bytes == 25 * 1024 * 1024
    assert defaults.http.max_body_bytes == 32 * 1024 * 1024
    assert defaults.http.max_body_bytes > defaults.storage.max_upload_bytes
