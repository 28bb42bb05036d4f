"""The browser-test harness itself: the server process, the demo passwords, the network and error
guard, axe injection under the app's CSP, and screenshots (the /web/ pages have their own tests)."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page

from tests.e2e import conftest as e2e_conftest
from tests.e2e.conftest import E2EServer, axe_scan, new_guarded_context, parse_demo_passwords, save_screenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_server_answers_in_the_browser_with_no_external_request(page: Page, e2e_server: E2EServer) -> None:
    health = page.goto("/health")
    assert health is not None
    assert health.status == 200
    assert health.url == f"{e2e_server.base_url}/health"
    assert health.json()["status"] == "healthy"

    openapi = page.goto("/api/openapi.json")
    assert openapi is not None
    assert openapi.status == 200
    assert openapi.json()["info"]["title"] == "depotflow"
    # The guard (checked after the test body) fails the test on any external request or JS error.


def test_demo_accounts_sign_in_with_the_printed_passwords(e2e_server: E2EServer) -> None:
    assert {"admin", "buyer", "approver1", "approver2", "operator", "qc_officer"} <= e2e_server.passwords.keys()
    assert e2e_server.data_dir.is_dir()
    assert e2e_server.database_url.startswith("sqlite:///")

    response = httpx.post(
        e2e_server.url("/api/auth/login"),
        json={"username": "buyer", "password": e2e_server.passwords["buyer"]},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.json()["must_change_password"] is False


def test_demo_output_parser() -> None:
    stdout = (
        "========\n  First start: an administrator account was created.\n"
        "  username: admin\n  password: Adm1nPassw0rdXyz\n"
        "  This password is shown once; you will be asked to change it.\n========\n"
        "========\n  Demo data loaded: a small pharmaceutical plant.\n"
        "  username    password          role\n"
        "  buyer       abcDEF234ghjkmnp  Buyer (Ana Pop)\n"
        "  qc_officer  QRSTuvw56789abcd  QC officer (Dan Ionescu)\n"
        "  Purchase orders: PO-0001 pending, PO-0002 issued.\n"
        "  These passwords are shown once; demo accounts need not change them.\n========\n"
    )

    assert parse_demo_passwords(stdout) == {
        "admin": "Adm1nPassw0rdXyz",
        "buyer": "abcDEF234ghjkmnp",
        "qc_officer": "QRSTuvw56789abcd",
    }


def test_guard_blocks_and_records_external_requests_and_js_errors(browser: Browser, e2e_server: E2EServer) -> None:
    context, guard = new_guarded_context(browser, e2e_server)
    try:
        page = context.new_page()
        page.goto("/health")
        # A navigation, because the app's CSP already stops a fetch() before it reaches the network.
        with pytest.raises(Error, match="ERR_BLOCKED_BY_CLIENT"):
            page.goto("https://cdn.jsdelivr.net/npm/htmx.org@2.0.11")
        page = context.new_page()
        page.goto("/health")
        page.evaluate("() => { setTimeout(() => { throw new Error('boom from the page') }, 0) }")
        page.wait_for_timeout(200)
    finally:
        context.close()

    assert guard.blocked == ["GET https://cdn.jsdelivr.net/npm/htmx.org@2.0.11"]
    assert any("boom from the page" in error for error in guard.errors), guard.errors
    assert any(problem.startswith("external request: GET https://cdn.jsdelivr.net/") for problem in guard.problems())


def test_axe_runs_under_the_app_csp_and_reports_serious_violations(page: Page) -> None:
    response = page.goto("/health")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.evaluate(
        """() => {
            document.documentElement.lang = 'en';
            document.head.innerHTML = '<title>Harness</title>';
            document.body.innerHTML = '<main><h1>Harness</h1><p>Clean.</p></main>';
        }"""
    )

    assert axe_scan(page) == []

    page.evaluate(
        "() => { document.querySelector('main').insertAdjacentHTML('beforeend', "
        "'<img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\"><button></button>') }"
    )
    violations = axe_scan(page)

    assert {v["id"] for v in violations} >= {"image-alt", "button-name"}
    assert {v["impact"] for v in violations} <= {"serious", "critical"}


def test_screenshots_go_to_the_artefact_directory_and_to_docs_on_request(
    page: Page, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs = tmp_path / "docs-screenshots"
    monkeypatch.setattr(e2e_conftest, "SCREENSHOTS_DIR", docs)
    page.goto("/health")

    monkeypatch.delenv("DEPOTFLOW_UPDATE_SCREENSHOTS", raising=False)
    path = save_screenshot(page, "harness-health")

    assert path.parent.name == "screenshots"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert not docs.exists()

    monkeypatch.setenv("DEPOTFLOW_UPDATE_SCREENSHOTS", "1")
    save_screenshot(page, "harness-health")

    assert (docs / "harness-health.png").read_bytes() == path.read_bytes()
