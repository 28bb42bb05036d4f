"""Journey 1 (ui.md §12.2): signing in and the session, in a real browser against `depotflow serve`.

Lockout and the idle timeout are exercised in tests/ui/test_session.py and the identity tests: in a
shared demo server they would lock accounts other journeys use.
"""

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import E2EServer, axe_scan, format_violations, login, new_guarded_context, save_screenshot


def test_wrong_password_shows_an_inline_error_and_keeps_the_username(page: Page, e2e_server: E2EServer) -> None:
    page.goto("/web/login")
    page.get_by_label("Username").fill("buyer")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid username or password")
    expect(page.get_by_label("Username")).to_have_value("buyer")
    expect(page.get_by_label("Password")).to_have_value("")
    assert not axe_scan(page), format_violations(axe_scan(page))
    save_screenshot(page, "login-error")


def test_next_is_honoured_and_the_menu_matches_the_role(page: Page, e2e_server: E2EServer) -> None:
    page.goto("/web/account")
    expect(page).to_have_url(re.compile(r"/web/login\?next=/web/account$"))
    login(page, "buyer", e2e_server.passwords["buyer"], expect_path="/web/account")
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("link", name="Procurement")).to_be_visible()
    expect(menu.get_by_role("heading", name="Administration")).to_have_count(0)
    assert not axe_scan(page), format_violations(axe_scan(page))

    page.goto("/web/dashboard")
    assert not axe_scan(page), format_violations(axe_scan(page))
    save_screenshot(page, "dashboard-buyer")


def test_first_administrator_changes_the_printed_password_then_sees_administration(
    page: Page, e2e_server: E2EServer
) -> None:
    printed = e2e_server.passwords["admin"]
    login(page, "admin", printed, expect_path="/web/account")
    expect(page.get_by_role("alert")).to_contain_text("Change your password")
    page.goto("/web/admin/users")
    expect(page).to_have_url(re.compile(r"/web/account$"))  # nothing else until the password changes
    new_password = "E2e-" + printed[::-1] + "-x9"
    page.get_by_label("Current password").fill(printed)
    page.locator("#f-new_password").fill(new_password)
    page.get_by_label("New password again").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".toast, [role=status]").filter(has_text="password")).not_to_have_count(0)
    e2e_server.passwords["admin"] = new_password  # later journeys sign in with it
    page.goto("/web/dashboard")
    menu = page.get_by_role("navigation", name="Main menu")
    expect(menu.get_by_role("heading", name="Administration")).to_be_visible()


def test_post_without_csrf_token_is_refused(page: Page, e2e_server: E2EServer) -> None:
    login(page, "operator", e2e_server.passwords["operator"])
    response = page.request.post(f"{e2e_server.base_url}/web/logout", form={"csrf_token": "forged"})
    assert response.status == 403
    page.reload()
    expect(page).to_have_url(re.compile(r"/web/dashboard$"))  # still signed in


def test_logout_revokes_the_session(page: Page, e2e_server: E2EServer) -> None:
    login(page, "qc_officer", e2e_server.passwords["qc_officer"])
    cookies = page.context.cookies()
    page.get_by_role("banner").locator("[data-bs-toggle=dropdown]").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/web/login"))
    expect(page.get_by_role("status").or_(page.locator(".toast"))).to_contain_text("signed out")
    # The old cookie no longer opens anything: the token was revoked, not only forgotten.
    page.context.add_cookies(cookies)
    page.goto("/web/dashboard")
    expect(page).to_have_url(re.compile(r"/web/login\?next=/web/dashboard$"))


def test_romanian_login_page(page: Page, e2e_server: E2EServer, browser: Browser) -> None:
    # A signed-in user's language is kept in the profile and wins at sign-in (a shared warehouse
    # terminal keeps the previous person's cookie): the buyer chooses Romanian first.
    other, guard = new_guarded_context(browser, e2e_server)
    try:
        login(other.new_page(), "buyer", e2e_server.passwords["buyer"], lang="ro")
    finally:
        other.close()
    guard.check()
    page.goto("/web/login")
    page.get_by_role("button", name="RO").click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("heading", level=1)).to_have_text("Autentificare")
    page.get_by_label("Utilizator").fill("buyer")
    page.get_by_label("Parolă").fill(e2e_server.passwords["buyer"])
    page.get_by_role("button", name="Autentificare").click()
    expect(page).to_have_url(re.compile(r"/web/dashboard$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Panou")
