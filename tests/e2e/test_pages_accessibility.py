"""axe-core on the main pages of the shell and the master data, in both languages (the procurement
pages are scanned along the procurement journey): no serious or critical violation.

The file sorts after the journeys on purpose: journey 1 checks the forced change of the printed
administrator password, which this test performs itself only when run alone."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import E2EServer, axe_scan, format_violations

PAGES = [
    "/web/dashboard",
    "/web/approvals",
    "/web/admin/users",
    "/web/admin/roles",
    "/web/admin/audit",
    "/web/admin/settings",
    "/web/admin/approval-templates",
    "/web/inventory/parts",
    "/web/inventory/categories",
    "/web/inventory/locations",
    "/web/inventory/companies",
    "/web/stock",
    "/web/account",
]

# The first detail page each list links to: parts, suppliers, lots, users.
DETAIL_LINK = re.compile(r"^/web/(inventory/parts|inventory/companies|stock/lots|admin/users|admin/roles)/\d+$")


@pytest.mark.parametrize("lang", ["en", "ro"])
def test_main_pages_have_no_serious_accessibility_violations(page: Page, e2e_server: E2EServer, lang: str) -> None:
    # The administrator sees every page. The first journey may have replaced the printed password;
    # if it has not run, this one does the change.
    page.goto("/web/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(e2e_server.passwords["admin"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/web/(dashboard|account)$"))
    if page.url.endswith("/web/account"):
        new_password = "A11y-" + e2e_server.passwords["admin"][::-1] + "-7k"
        page.locator("#f-current_password").fill(e2e_server.passwords["admin"])
        page.locator("#f-new_password").fill(new_password)
        page.locator("#f-new_password_again").fill(new_password)
        page.locator("#password-form button[type=submit]").click()
        e2e_server.passwords["admin"] = new_password
        expect(page.locator("#password-form .df-error-summary")).to_have_count(0)
    page.goto("/web/dashboard")
    page.locator(f"header form[action='/web/lang'] button[value={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)

    problems = []
    details: set[str] = set()
    for url in PAGES:
        response = page.goto(url)
        assert response is not None, url
        assert response.status == 200, f"{url}: {response.status}"
        violations = axe_scan(page)
        if violations:
            problems.append(f"{url}:\n{format_violations(violations)}")
        for href in page.locator("main a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
            if DETAIL_LINK.match(href) and href.rsplit("/", 1)[0] not in {d.rsplit("/", 1)[0] for d in details}:
                details.add(href)
    assert len(details) >= 4, details
    for url in sorted(details):
        page.goto(url)
        violations = axe_scan(page)
        if violations:
            problems.append(f"{url}:\n{format_violations(violations)}")
    assert not problems, "\n".join(problems)
