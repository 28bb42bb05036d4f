"""What is shown is what is signed: `expected_digest` binds a signature to the content the signer saw.

A match signs; a mismatch (the object changed after it was shown) is refused with 409
`approval.content_changed`, stores no signature and leaves the flow as it was; the digest that
GET /api/approvals/flows/{id}/content returns is the one `sign` accepts and records.
"""

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import Decision
from depotflow.domains.approval.errors import ContentChanged
from tests.factories.approval import (
    SECRET,
    actor_of,
    context,
    counts,
    flow_row,
    service_start,
    service_template,
    signature_rows,
)
from tests.factories.approval_http import (
    ALL_APPROVAL,
    BASE,
    SIGNER,
    create_template,
    row_counts,
    sign,
    start_flow,
    tamper,
    user_officer,
)
from tests.factories.identity import MadeUser, make_role, make_user

pytestmark = pytest.mark.anyio

OBJECT_TYPE = "identity.role"


async def _current_digest(database: Database, object_id: int) -> str:
    async with database.session(write=False) as session:
        description = await approval_service.describe_object(session, OBJECT_TYPE, object_id)
        return approval_service.content_digest(description.content)


async def _service_sign(database: Database, user: MadeUser, flow_id: int, expected_digest: str | None) -> str:
    actor = actor_of(user)
    async with database.unit_of_work(context(actor)) as session:
        flow = await approval_service.sign(
            session,
            actor,
            flow_id=flow_id,
            decision=Decision.APPROVE,
            meaning=None,
            reason=None,
            ip_address="127.0.0.1",
            user_agent="tests",
            secret=SECRET,
            expected_digest=expected_digest,
        )
        return flow.status


async def _service_setup(database: Database) -> tuple[MadeUser, MadeUser, int, int]:
    """Two must_sign officers, and a flow over a role of its own (the object whose content is signed)."""
    first = await make_user(database, username="fay", permissions=SIGNER)
    second = await make_user(database, username="gus", permissions=SIGNER)
    await service_template(database, officers=[user_officer(first), user_officer(second)], object_type=OBJECT_TYPE)
    object_id = await make_role(database, slug="signed-role", permissions=["approval.view"])
    started = await service_start(database, object_type=OBJECT_TYPE, object_id=object_id)
    return first, second, object_id, started.flow_id


async def _change_object(database: Database, object_id: int) -> None:
    changed = await tamper(
        database, "UPDATE identity_role SET description = 'changed after review' WHERE id = :id", id=object_id
    )
    assert changed == 1


# --- Service --------------------------------------------------------------------------------------


async def test_service_signs_when_the_expected_digest_matches(database: Database) -> None:
    first, _second, object_id, flow_id = await _service_setup(database)
    digest = await _current_digest(database, object_id)

    status = await _service_sign(database, first, flow_id, digest)

    assert status == "in_progress"
    rows = await signature_rows(database, flow_id)
    assert [(r.user_id, r.content_digest) for r in rows] == [(first.id, digest)]


async def test_service_refuses_a_changed_object_and_stores_nothing(database: Database) -> None:
    first, _second, object_id, flow_id = await _service_setup(database)
    seen = await _current_digest(database, object_id)
    await _change_object(database, object_id)
    current = await _current_digest(database, object_id)
    assert current != seen
    before = await counts(database)
    flow_before = await flow_row(database, flow_id)

    with pytest.raises(ContentChanged) as raised:
        await _service_sign(database, first, flow_id, seen)

    assert raised.value.code == "approval.content_changed"
    assert raised.value.status == 409
    assert raised.value.details == {"expected_digest": seen, "current_digest": current}
    assert await counts(database) == before
    assert await signature_rows(database, flow_id) == []
    flow_after = await flow_row(database, flow_id)
    assert (flow_after.status, flow_after.updated_at) == (flow_before.status, flow_before.updated_at)


async def test_service_without_an_expected_digest_signs_the_current_content(database: Database) -> None:
    first, _second, object_id, flow_id = await _service_setup(database)
    await _change_object(database, object_id)

    await _service_sign(database, first, flow_id, None)

    rows = await signature_rows(database, flow_id)
    assert [r.content_digest for r in rows] == [await _current_digest(database, object_id)]


async def test_service_checks_the_digest_of_the_last_signature_too(database: Database) -> None:
    first, second, object_id, flow_id = await _service_setup(database)
    await _service_sign(database, first, flow_id, await _current_digest(database, object_id))
    seen = await _current_digest(database, object_id)
    await _change_object(database, object_id)

    with pytest.raises(ContentChanged):
        await _service_sign(database, second, flow_id, seen)

    assert (await flow_row(database, flow_id)).status == "in_progress"
    assert len(await signature_rows(database, flow_id)) == 1


# --- HTTP -------------------------------------------------------------------------------------------


async def _http_setup(client: httpx.AsyncClient, database: Database) -> tuple[MadeUser, MadeUser, int, int]:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    signer = await make_user(database, username="sid", permissions=SIGNER)
    await create_template(client, manager, officers=[user_officer(manager), user_officer(signer)])
    object_id = await make_role(database, slug="signed-role", permissions=["approval.view"])
    flow = await start_flow(client, manager, object_id)
    return manager, signer, object_id, int(flow["id"])


async def test_get_content_returns_the_digest_that_sign_accepts(client: httpx.AsyncClient, database: Database) -> None:
    _manager, signer, object_id, flow_id = await _http_setup(client, database)

    content = await client.get(f"{BASE}/flows/{flow_id}/content", headers=signer.headers)

    assert content.status_code == 200, content.text
    body = content.json()
    assert body["title"] == "Role Signed-Role"
    assert body["content"]["slug"] == "signed-role"
    assert body["content_digest"] == approval_service.content_digest(body["content"])
    assert body["content_digest"] == await _current_digest(database, object_id)

    signed = await sign(client, signer, flow_id, expected_digest=body["content_digest"])

    assert signed.status_code == 200, signed.text
    mine = [s for s in signed.json()["signatures"] if s["user_id"] == signer.id]
    assert [s["content_digest"] for s in mine] == [body["content_digest"]]


async def test_sign_refuses_a_changed_object_with_409_and_stores_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, object_id, flow_id = await _http_setup(client, database)
    seen = (await client.get(f"{BASE}/flows/{flow_id}/content", headers=signer.headers)).json()["content_digest"]
    await _change_object(database, object_id)
    flow_before = (await client.get(f"{BASE}/flows/{flow_id}", headers=manager.headers)).json()
    before = await row_counts(database)

    refused = await sign(client, signer, flow_id, expected_digest=seen)

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "approval.content_changed"
    current = (await client.get(f"{BASE}/flows/{flow_id}/content", headers=signer.headers)).json()["content_digest"]
    assert current != seen
    after = await row_counts(database)
    assert after["approval_signature"] == before["approval_signature"]
    assert after["approval_flow"] == before["approval_flow"]
    flow_after = (await client.get(f"{BASE}/flows/{flow_id}", headers=manager.headers)).json()
    assert flow_after == flow_before
    assert flow_after["signatures"] == []

    # Reviewed again, the new digest signs.
    again = await sign(client, signer, flow_id, expected_digest=current)
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("digest", ["abc", "G" * 64, "0" * 63, "A" * 64])
async def test_a_malformed_expected_digest_is_422(client: httpx.AsyncClient, database: Database, digest: str) -> None:
    _manager, signer, _object_id, flow_id = await _http_setup(client, database)
    before = await row_counts(database)

    response = await sign(client, signer, flow_id, expected_digest=digest)

    assert response.status_code == 422, response.text
    after = await row_counts(database)
    assert after["approval_signature"] == before["approval_signature"]


async def test_a_well_formed_but_wrong_digest_is_409(client: httpx.AsyncClient, database: Database) -> None:
    _manager, signer, _object_id, flow_id = await _http_setup(client, database)

    response = await sign(client, signer, flow_id, expected_digest="0" * 64)

    assert response.status_code == 409
    assert response.json()["code"] == "approval.content_changed"
