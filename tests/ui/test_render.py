"""The htmx partial protocol: the same route answers a full page, or only the block named by
HX-Target (with the macros the page imports), and security headers on every answer."""

import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_user
from tests.ui.conftest import sign_in

pytestmark = pytest.mark.anyio


async def test_a_block_rendered_alone_has_the_page_macros(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    data = {"current_password": "", "new_password": "x", "new_password_again": "y"}
    full = await web.post("/web/account/password", data)
    assert full.status_code == 422
    assert full.text.lstrip().lower().startswith("<!doctype html>")
    part = await web.post("/web/account/password", data, target="password-form")
    assert part.status_code == 422
    assert "<html" not in part.text
    assert 'id="password-form"' in part.text
    assert 'aria-invalid="true"' in part.text  # the field macro ran
    assert "The two new passwords differ." in part.text
    assert part.headers["vary"] == "HX-Request, HX-Target"
    assert part.headers["cache-control"] == "no-store"


async def test_unknown_targets_get_the_full_page(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    resp = await web.get("/web/account", target="not-a-block")
    assert resp.status_code == 200
    assert "<html" in resp.text


async def test_error_pages_are_html_under_web_and_json_under_api(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    page = await web.get("/web/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    api = await client.get("/api/no-such-route")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/")
