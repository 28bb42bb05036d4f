"""Attachments and document bookkeeping of purchase orders over HTTP: files go through the file store
(uploaded, listed newest first, downloaded through `content_url`, deleted), are reached only through
their own order, and shared bytes survive the deletion of one of their records; `documents` takes a
JSON object up to 64 KiB and is audited."""

from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.file import PDF, TEXT
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    BUYER,
    get_order,
    issued_order,
    make_order,
    make_plant,
    ok,
    order_url,
    refused,
    row_counts,
    snapshot,
)

pytestmark = pytest.mark.anyio


async def _clerk(database: Database) -> MadeUser:
    """A buyer who may also download stored files."""
    return await make_user(database, username="fay", permissions=[*BUYER, "file.view"])


async def _attach(
    client: httpx.AsyncClient, user: MadeUser, order_id: int, content: bytes, filename: str, comment: str | None = None
) -> httpx.Response:
    data = {"comment": comment} if comment is not None else {}
    return await client.post(
        order_url(order_id, "/attachments"),
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
        headers=user.headers,
    )


async def _listed(client: httpx.AsyncClient, user: MadeUser, order_id: int) -> list[Any]:
    return list(ok(await client.get(order_url(order_id, "/attachments"), headers=user.headers))["items"])


async def test_attachments_are_uploaded_listed_downloaded_and_deleted(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    clerk = await _clerk(database)
    order = await issued_order(client, plant)  # delivery notes and certificates arrive with the goods
    oid = order["id"]

    coa = ok(await _attach(client, clerk, oid, PDF, "coa.pdf", "  Certificate of analysis "), 201)
    note = ok(await _attach(client, clerk, oid, TEXT, "delivery-note.txt"), 201)

    assert (coa["filename"], coa["content_type"], coa["size"]) == ("coa.pdf", "application/pdf", len(PDF))
    assert (coa["entity_type"], coa["entity_id"], coa["description"]) == (
        "purchase_order",
        oid,
        "Certificate of analysis",
    )
    assert (coa["uploaded_by_id"], coa["content_url"]) == (clerk.id, f"/api/files/{coa['id']}/content")
    assert note["description"] == ""
    listed = ok(await client.get(order_url(oid, "/attachments"), headers=plant.buyer.headers))
    assert [f["id"] for f in listed["items"]] == [note["id"], coa["id"]]
    assert listed["total"] == 2
    found = ok(await client.get(order_url(oid, "/attachments"), params={"search": "coa"}, headers=plant.buyer.headers))
    assert [f["id"] for f in found["items"]] == [coa["id"]]
    download = await client.get(coa["content_url"], headers=clerk.headers)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    refused(await client.get(coa["content_url"], headers=plant.buyer.headers), 403, "permission_denied")

    deleted = await client.delete(order_url(oid, f"/attachments/{coa['id']}"), headers=clerk.headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert [f["id"] for f in await _listed(client, plant.buyer, oid)] == [note["id"]]
    refused(await client.get(coa["content_url"], headers=clerk.headers), 404, "file.not_found")
    again = await client.delete(order_url(oid, f"/attachments/{coa['id']}"), headers=clerk.headers)
    refused(again, 404, "procurement.attachment_not_found")
    assert len(await entries(database, entity_type="file_record", entity_id=str(coa["id"]))) == 2  # create, delete
    assert (await client.get(note["content_url"], headers=clerk.headers)).content == TEXT


async def test_bad_uploads_are_refused_and_store_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    oid = order["id"]
    before = await snapshot(client, database, plant.buyer, oid)

    refused(await _attach(client, plant.buyer, 999_999, PDF, "coa.pdf"), 404, "procurement.order_not_found")
    refused(await _attach(client, plant.approver1, oid, PDF, "coa.pdf"), 403, "permission_denied")
    refused(await _attach(client, plant.buyer, oid, b"", "empty.pdf"), 422, "file.empty")
    refused(await _attach(client, plant.buyer, oid, PDF, "coa.pdf", "c" * 2001), 422, "request.validation_failed")
    missing = await client.post(order_url(oid, "/attachments"), data={"comment": "x"}, headers=plant.buyer.headers)
    refused(missing, 422, "request.validation_failed")

    assert await snapshot(client, database, plant.buyer, oid) == before
    assert await _listed(client, plant.buyer, oid) == []


async def test_an_attachment_is_deleted_only_through_its_own_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    clerk = await _clerk(database)
    mine = await make_order(client, plant)
    theirs = await make_order(client, plant)
    their_file = ok(await _attach(client, clerk, theirs["id"], PDF, "coa.pdf"), 201)
    loose = ok(
        await client.post(
            "/api/files",
            files={"file": ("loose.txt", TEXT, "text/plain")},
            headers=(await make_user(database, username="ul", permissions=["file.upload"])).headers,
        ),
        201,
    )
    before = await row_counts(database)

    for attachment_id in (their_file["id"], loose["id"], 999_999):
        response = await client.delete(order_url(mine["id"], f"/attachments/{attachment_id}"), headers=clerk.headers)
        problem = refused(response, 404, "procurement.attachment_not_found")
        assert problem["details"] == {"attachment_id": attachment_id}

    assert await row_counts(database) == before
    assert [f["id"] for f in await _listed(client, clerk, theirs["id"])] == [their_file["id"]]
    assert (await client.get(their_file["content_url"], headers=clerk.headers)).content == PDF


async def test_identical_bytes_on_two_orders_survive_the_deletion_of_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    clerk = await _clerk(database)
    first = await make_order(client, plant)
    second = await make_order(client, plant)
    one = ok(await _attach(client, clerk, first["id"], PDF, "coa.pdf"), 201)
    two = ok(await _attach(client, clerk, second["id"], PDF, "coa-copy.pdf"), 201)
    assert one["sha256"] == two["sha256"]

    deleted = await client.delete(order_url(first["id"], f"/attachments/{one['id']}"), headers=clerk.headers)

    assert deleted.status_code == 204
    assert await _listed(client, clerk, first["id"]) == []
    download = await client.get(two["content_url"], headers=clerk.headers)
    assert (download.status_code, download.content) == (200, PDF)
    assert (
        await client.delete(order_url(second["id"], f"/attachments/{two['id']}"), headers=clerk.headers)
    ).status_code == 204
    assert await _listed(client, clerk, second["id"]) == []


async def test_documents_take_a_json_object_up_to_64_kib_and_are_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    oid = order["id"]
    url = order_url(oid, "/documents")
    documents = {"po_pdf": {"file_id": 7, "template": "po-standard", "pages": 2}, "sent_to_supplier": True}

    saved = ok(await client.patch(url, json={"documents": documents}, headers=plant.buyer.headers))

    assert saved == {"documents": documents}
    assert (await get_order(client, plant.buyer, oid))["documents"] == documents
    update = (await entries(database, action="procurement_order.update", entity_id=str(oid)))[-1]
    assert update["actor_user_id"] == plant.buyer.id
    assert update["changes"]["before"]["documents"] == {}
    assert update["changes"]["after"]["documents"] == documents
    audited = await row_counts(database)
    assert ok(await client.patch(url, json={"documents": documents}, headers=plant.buyer.headers)) == saved
    assert await row_counts(database) == audited  # the same content again changes nothing

    before = await snapshot(client, database, plant.buyer, oid)
    for body, code in [
        ({"documents": [1, 2]}, "request.validation_failed"),
        ({"documents": "po.pdf"}, "request.validation_failed"),
        ({"documents": None}, "request.validation_failed"),
        ({"documents": 7}, "request.validation_failed"),
        ({}, "request.validation_failed"),
        ({"documents": {}, "notes": "x"}, "request.validation_failed"),
        ({"documents": {"blob": "x" * (64 * 1024)}}, "procurement.unknown_reference"),
        ({"documents": {f"k{i}": "v" * 100 for i in range(700)}}, "procurement.unknown_reference"),
    ]:
        refused(await client.patch(url, json=body, headers=plant.buyer.headers), 422, code)
    refused(
        await client.patch(order_url(999_999, "/documents"), json={"documents": {}}, headers=plant.buyer.headers),
        404,
        "procurement.order_not_found",
    )
    assert await snapshot(client, database, plant.buyer, oid) == before

    # Just under the limit is fine; an empty object clears the bookkeeping.
    near: dict[str, Any] = {"blob": "x" * (64 * 1024 - 20)}
    assert ok(await client.patch(url, json={"documents": near}, headers=plant.buyer.headers)) == {"documents": near}
    assert ok(await client.patch(url, json={"documents": {}}, headers=plant.buyer.headers)) == {"documents": {}}
