"""Journeys 2 and 3 (ui.md §12.2): the procurement story through QC release, by five users in their
own browsers, in English and in Romanian, and on PostgreSQL. Nothing here touches the API.

buyer creates the order and its lines → approver1 (a wrong password first) and approver2 sign in the
signature dialog → operator receives in two receipts → qc_officer samples, enters the result and
releases the lot with a signature → the buyer attaches a file and reads the history.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from depotflow.ui import i18n
from tests.e2e.conftest import (
    E2EServer,
    Guard,
    axe_scan,
    format_violations,
    login,
    new_guarded_context,
    save_screenshot,
)

RUNS = [
    pytest.param(("sqlite", "en"), id="sqlite-en"),
    pytest.param(("sqlite", "ro"), id="sqlite-ro"),
    pytest.param(("postgresql", "en"), id="postgresql-en"),
]


@dataclass
class Story:
    server: E2EServer
    lang: str
    browser: Browser
    guards: list[Guard]
    contexts: list[BrowserContext]
    checks_a11y: bool

    def t(self, msgid: str, **values: Any) -> str:
        return i18n.translate(self.lang, msgid, **values)

    def number(self, text: str) -> str:
        """A decimal as the user types it in this language."""
        return text.replace(".", ",") if self.lang == "ro" else text

    def as_user(self, username: str) -> Page:
        context, guard = new_guarded_context(self.browser, self.server)
        self.contexts.append(context)
        self.guards.append(guard)
        page = context.new_page()
        login(page, username, self.server.passwords[username], lang=self.lang)
        return page

    def accessible(self, page: Page, name: str) -> None:
        if not self.checks_a11y:
            return
        violations = axe_scan(page)
        assert not violations, f"{name}:\n{format_violations(violations)}"


@pytest.fixture
def story(request: pytest.FixtureRequest, browser: Browser, start_server: Callable[..., E2EServer]) -> Iterator[Story]:
    db, lang = request.param
    s = Story(start_server(db), lang, browser, [], [], checks_a11y=(db, lang) == ("sqlite", "en"))
    yield s
    for context in s.contexts:
        context.close()
    for guard in s.guards:
        guard.check()


def choose(page: Page, field: str, text: str, option: str) -> None:
    """Type into a combobox and pick the option (keyboard: arrow down, Enter)."""
    page.wait_for_load_state("load")  # htmx wires the combobox up once the page has loaded
    box = page.locator(f"#f-{field}")
    box.fill(text)
    listbox = page.locator(f"#lb-{field}")
    expect(listbox.locator("[role=option]").first).to_contain_text(option)
    box.press("ArrowDown")
    box.press("Enter")
    expect(page.locator(f"input[type=hidden][name={field}]")).not_to_have_value("")


def state_badge(page: Page, slug: str) -> Locator:
    return page.locator(f".df-state[data-state={slug}]").first


@pytest.mark.parametrize("story", RUNS, indirect=True)
def test_procurement_story_through_qc_release(story: Story) -> None:
    t = story.t
    shots = story.checks_a11y  # the README's screenshots come from the English SQLite run

    # --- the buyer: an order with two lines --------------------------------------------------------
    buyer = story.as_user("buyer")
    buyer.goto("/web/procurement")
    story.accessible(buyer, "order list")
    buyer.goto("/web/procurement/new")
    choose(buyer, "supplier_id", "Excipia", "Excipia SRL")
    buyer.get_by_role("button", name=t("Create order")).click()
    buyer.wait_for_url(re.compile(r"/web/procurement/\d+(/\w+)?$"))
    order_id = int(re.search(r"/web/procurement/(\d+)", buyer.url).group(1))  # type: ignore[union-attr]
    order_url = f"/web/procurement/{order_id}"
    reference = re.search(r"[A-Z]+-\d+", buyer.locator("h1").inner_text()).group(0)  # type: ignore[union-attr]

    buyer.goto(order_url)
    # The approval flow starts with the order; an empty order cannot be signed.
    expect(buyer.get_by_text(t("Add at least one line before signing."))).to_be_visible()
    story.accessible(buyer, "order detail (pending)")

    buyer.goto(f"{order_url}/lines")
    choose(buyer, "part_id", "RM-EXC-001", "RM-EXC-001")
    buyer.locator("#f-quantity").fill("0")
    buyer.get_by_role("button", name=t("Add line")).click()
    expect(buyer.locator("#e-quantity")).to_be_visible()
    expect(buyer.locator("#f-quantity")).to_have_value("0")  # what the user typed is kept
    buyer.locator("#f-quantity").fill(story.number("12.5"))
    buyer.locator("#f-purchase_price").fill(story.number("8.80"))
    buyer.get_by_role("button", name=t("Add line")).click()
    expect(buyer.get_by_role("cell", name=re.compile("RM-EXC-001"))).to_be_visible()

    choose(buyer, "part_id", "RM-EXC-002", "RM-EXC-002")
    buyer.locator("#f-quantity").fill("3")
    buyer.get_by_role("button", name=t("Add line")).click()
    expect(buyer.get_by_role("cell", name=re.compile("RM-EXC-002"))).to_be_visible()
    story.accessible(buyer, "order lines")

    buyer.goto(order_url)
    expect(buyer.get_by_role("link", name=t("Sign…"))).to_have_count(0)  # the buyer is no officer

    # --- two approvers sign in the signature dialog ------------------------------------------------
    for number, approver in enumerate(("approver1", "approver2"), start=1):
        page = story.as_user(approver)
        page.goto("/web/approvals")
        story.accessible(page, "my approvals")
        page.get_by_role("link", name=re.compile(re.escape(reference))).first.click()
        page.wait_for_url(re.compile(rf"{order_url}(/details)?$"))
        page.get_by_role("button", name=t("Sign…")).or_(page.get_by_role("link", name=t("Sign…"))).first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".df-digest")).to_be_visible()
        # The first signature of a session asks for the username too (21 CFR 11.200(a)(1)).
        username = dialog.get_by_label(t("Username"))
        expect(username).to_be_visible()
        if number == 1:
            expect(dialog).to_contain_text(t("Effect"))
            username.fill(approver)
            dialog.get_by_label(t("Password")).fill("not-my-password")
            dialog.locator("#f-declaration").check()
            dialog.get_by_role("button", name=t("Sign"), exact=True).click()
            expect(dialog.locator("#e-password")).to_be_visible()
            expect(dialog.get_by_label(t("Password"))).to_have_value("")
            expect(state_badge(page, "pending")).to_be_visible()
            story.accessible(page, "signature dialog with an error")
        # Keyboard only: type the username (kept after an error) and the password, tick the
        # declaration with Space, submit with Enter.
        if not username.input_value():
            username.focus()
            page.keyboard.type(approver)
        dialog.get_by_label(t("Password")).focus()
        page.keyboard.type(story.server.passwords[approver])
        declaration = dialog.locator("#f-declaration")
        if not declaration.is_checked():
            declaration.focus()
            page.keyboard.press("Space")
        if shots and number == 2:
            expect(dialog).to_contain_text("Excipia SRL")  # names beside the signed ids
            page.locator("#dialog").evaluate("el => { el.scrollTop = 0; }")
            save_screenshot(page, "signature-dialog")
        dialog.get_by_label(t("Password")).focus()
        page.evaluate("() => { window.dfSameDocument = true; }")
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expected_state = "pending" if number == 1 else "issued"
        expect(state_badge(page, expected_state)).to_be_visible()
        assert page.evaluate("() => window.dfSameDocument === true")  # updated without a page reload

    # --- the warehouse receives in two receipts ----------------------------------------------------
    operator = story.as_user("operator")
    operator.goto(f"{order_url}/receive")
    operator.locator(f"a[href^='{order_url}/receive/']").first.click()
    operator.wait_for_url(re.compile(rf"{order_url}/receive/\d+$"))
    story.accessible(operator, "receive form")
    operator.locator("#f-quantity").fill(story.number("5"))
    operator.locator("#f-supplier_batch_code").fill("EXC-2611-A")
    operator.locator("#f-expiry_date").fill((date.today() + timedelta(days=700)).isoformat())
    operator.locator("#f-location_id").select_option(label="CLJ-QUA · Quarantine area")
    operator.locator("#f-containers-0-num_containers").fill("2")
    operator.locator("#f-containers-0-products_per_container").fill(story.number("2.5"))
    if shots:
        save_screenshot(operator, "receive-form")
    operator.get_by_role("button", name=t("Receive"), exact=True).click()
    operator.wait_for_url(re.compile(rf"{order_url}/receive$"))
    expect(state_badge(operator, "receiving")).to_be_visible()
    expect(state_badge(operator, "quarantine")).to_be_visible()

    for _line in range(2):  # the rest of line 1, then line 2: the order is then complete
        operator.locator(f"a[href^='{order_url}/receive/']").first.click()
        operator.wait_for_url(re.compile(rf"{order_url}/receive/\d+$"))
        operator.locator("#f-location_id").select_option(label="CLJ-QUA · Quarantine area")
        operator.locator("#f-expiry_date").fill((date.today() + timedelta(days=700)).isoformat())
        operator.get_by_role("button", name=t("Receive"), exact=True).click()
        operator.wait_for_url(re.compile(rf"{order_url}/receive$"))
    expect(state_badge(operator, "finished")).to_be_visible()

    # --- QC: sample, result, release with a signature ----------------------------------------------
    qc = story.as_user("qc_officer")
    qc.goto(f"{order_url}/quality")
    form = qc.locator(f"form[action='{order_url}/quality']")
    form.get_by_label(t("Lot")).select_option(index=1)
    form.locator("#f-sampled_quantity").fill(story.number("0.5"))
    form.locator("#f-analysis_number").fill("LAB-2611-7")
    form.get_by_role("button", name=t("Save QC record")).click()
    record = qc.locator("article").first
    expect(record.locator(".df-state[data-state=pending]")).to_be_visible()
    record.get_by_text(t("Enter the result")).click()
    record.get_by_label(t("Result")).select_option("conform")
    record.get_by_role("button", name=t("Save result")).click()
    record = qc.locator("article").first
    expect(record.locator(".df-state[data-state=conform]")).to_be_visible()
    record.get_by_text(t("Release lot…")).click()
    record.get_by_label(t("Username")).fill("qc_officer")  # the first signature of this session
    record.get_by_label(t("Password")).fill(story.server.passwords["qc_officer"])
    record.get_by_role("button", name=t("Sign: release lot")).click()
    record = qc.locator("article").first
    expect(record.locator(".df-state[data-state=ok]")).to_be_visible()
    story.accessible(qc, "quality tab")

    # --- the buyer: no release button, an attachment, the history ----------------------------------
    buyer.goto(f"{order_url}/quality")
    expect(buyer.get_by_text(t("Release lot…"))).to_have_count(0)
    buyer.goto(f"{order_url}/files")
    buyer.locator("input[type=file]").set_input_files(
        files=[{"name": "delivery-note.pdf", "mimeType": "application/pdf", "buffer": _pdf(200_000)}]
    )
    # Record what the progress bar shows while the upload runs (it is replaced with the new panel).
    buyer.evaluate(
        """() => { window.dfProgress = [];
        document.addEventListener("htmx:xhr:progress", () => {
          const bar = document.querySelector("[data-upload-progress] progress");
          if (bar && !bar.hidden) window.dfProgress.push(bar.value);
        }); }"""
    )
    buyer.get_by_role("button", name=t("Upload")).click()
    expect(buyer.get_by_role("cell", name="delivery-note.pdf", exact=True)).to_be_visible()
    assert buyer.evaluate("() => Math.max(0, ...window.dfProgress)") == 100
    buyer.goto(order_url)
    expect(state_badge(buyer, "finished")).to_be_visible()
    if shots:
        save_screenshot(buyer, "po-detail")
    story.accessible(buyer, "order detail (finished)")


def _pdf(size: int) -> bytes:
    """A small valid PDF padded to `size` bytes (the upload must take long enough to report progress)."""
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    trailer = b"trailer<</Root 1 0 R>>\n%%EOF\n"
    padding = b"%" + b"x" * max(0, size - len(body) - len(trailer) - 2) + b"\n"
    return body + padding + trailer
