"""Browser tests (ui.md §12.1): `depotflow serve` as a real process, Debian's Chromium through the
Playwright sync API, no external network, no JS errors.

- `start_server(db)` starts one server per database kind ("sqlite" or "postgresql") per session, on a
  free loopback port, with a fresh data directory, the schema migrated and the demo plant loaded
  (`depotflow demo`, whose random passwords are parsed from its output into `server.passwords`).
  `e2e_server` is the SQLite one.
- `browser` is `/usr/bin/chromium` (never `playwright install`); `context` is one browser context per
  test (en-GB, Europe/Bucharest, 1280x800, reduced motion) whose requests may only go to the
  server's origin; `page` is a page in it. A test fails when any other request was attempted, or when
  a page raised an uncaught error or logged a console error.
- Helpers: `login`, `axe_scan`, `save_screenshot`, and `new_guarded_context` for extra contexts
  (another server, locale or viewport).

Every test under tests/e2e is marked `e2e` (`pytest -m "not e2e"` skips them).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    expect,
    sync_playwright,
)

E2E_DIR = Path(__file__).resolve().parent
ROOT = E2E_DIR.parents[1]
AXE_JS = E2E_DIR / "vendor" / "axe.min.js"
SCREENSHOTS_DIR = ROOT / "docs" / "screenshots"
DEPOTFLOW = Path(sys.executable).parent / "depotflow"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SECRET_KEY = "e2e-secret-key-not-for-production-0123456789abcdef"
DB_KINDS = ("sqlite", "postgresql")
STARTUP_TIMEOUT = 60.0
CLI_TIMEOUT = 300.0
DEFAULT_TIMEOUT_MS = 10_000
# Assertions wait as long as actions: on a loaded 2-core CI machine a signature (argon2 password
# check, then a reload) can take a few seconds.
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
SERIOUS = frozenset({"serious", "critical"})

_artefact_dir: Path | None = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests share one demo server per database, so under pytest-xdist (`--dist loadgroup`)
    they run together on one worker, in file order; they go first, being the longest unit of work,
    while the other workers take the rest of the suite."""
    browser_tests = [item for item in items if E2E_DIR in item.path.parents]
    for item in browser_tests:
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.xdist_group("browser"))
    chosen = set(browser_tests)
    items[:] = browser_tests + [item for item in items if item not in chosen]


# --- the server ----------------------------------------------------------------------------------


@dataclass
class E2EServer:
    """One running `depotflow serve`."""

    db: str
    base_url: str
    port: int
    data_dir: Path
    database_url: str
    passwords: dict[str, str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_demo_passwords(stdout: str) -> dict[str, str]:
    """username -> password from `depotflow demo` output: the first-start admin banner, if any, and
    the table of demo accounts (`  username  password  role (name)` lines after the header row)."""
    passwords: dict[str, str] = {}
    admin = re.search(r"^\s+username: (\S+)\n\s+password: (\S+)$", stdout, re.MULTILINE)
    if admin:
        passwords[admin.group(1)] = admin.group(2)
    lines = stdout.splitlines()
    header = next((i for i, line in enumerate(lines) if re.fullmatch(r"\s+username\s+password\s+role", line)), None)
    if header is not None:
        for line in lines[header + 1 :]:
            match = re.fullmatch(r"  (\S+)\s+(\S+)\s{2,}\S.*", line)
            if not match or line.lstrip().startswith("Purchase orders:"):
                break
            passwords[match.group(1)] = match.group(2)
    return passwords


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(DEPOTFLOW), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        pytest.fail(f"`depotflow {' '.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def _server_env(base: Path, database_url: str) -> dict[str, str]:
    home, tmp, data = base / "home", base / "tmp", base / "data"
    for d in (home, tmp, data):
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTFLOW_")}
    env.update(
        DEPOTFLOW_ENV="test",
        DEPOTFLOW_DATA_DIR=str(data),
        DEPOTFLOW_DATABASE_URL=database_url,
        DEPOTFLOW_SECRET_KEY=SECRET_KEY,
        DEPOTFLOW_WEB__INSECURE_COOKIES="true",
        DEPOTFLOW_LOG_FORMAT="text",
        HOME=str(home),
        TMPDIR=str(tmp),
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_healthy(server: E2EServer) -> bool:
    """True once GET /health answers 200; False if the process died first (e.g. port taken)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(server.url("/health"), timeout=2.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"depotflow serve did not answer /health within {STARTUP_TIMEOUT:.0f} s:\n{server.log_tail()}")


def _launch(base: Path, db: str, database_url: str) -> E2EServer:
    env = _server_env(base, database_url)
    _run_cli(env, "migrate")
    demo = _run_cli(env, "demo", "--no-migrate")
    passwords = parse_demo_passwords(demo.stdout)
    if not passwords:
        pytest.fail(f"no demo passwords found in `depotflow demo` output:\n{demo.stdout}")
    log_path = base / "serve.log"
    for _attempt in range(3):
        port = _free_port()
        server = E2EServer(
            db=db,
            base_url=f"http://127.0.0.1:{port}",
            port=port,
            data_dir=Path(env["DEPOTFLOW_DATA_DIR"]),
            database_url=database_url,
            passwords=passwords,
            env=env,
            log_path=log_path,
        )
        with log_path.open("ab") as log:
            server.process = subprocess.Popen(
                [str(DEPOTFLOW), "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if _wait_healthy(server):
            return server
        server.stop()
    pytest.fail(f"depotflow serve exited before answering /health:\n{server.log_tail()}")


def _create_pg_database(pg_server: str) -> tuple[str, str]:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", pg_server, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    base, _, _ = pg_server.rpartition("/")
    return name, f"{base}/{name}"


def _drop_pg_database(pg_server: str, name: str) -> None:
    subprocess.run(
        ["psql", pg_server, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
        check=False,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def start_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., E2EServer]]:
    """`start_server(db="sqlite" | "postgresql")`: the session's server for that database kind, started
    on first use (PostgreSQL on the session's `pg_server`, in a database of its own)."""
    servers: dict[str, E2EServer] = {}
    cleanups: list[Callable[[], None]] = []

    def start(db: str = "sqlite") -> E2EServer:
        if db not in DB_KINDS:
            raise ValueError(f"unknown database kind {db!r}; expected one of {DB_KINDS}")
        if db in servers:
            server = servers[db]
            assert server.process is not None
            if server.process.poll() is not None:
                pytest.fail(f"the {db} server died (exit {server.process.returncode}):\n{server.log_tail()}")
            return server
        base = tmp_path_factory.mktemp(f"e2e-{db}")
        if db == "sqlite":
            database_url = f"sqlite:///{base / 'data' / 'depotflow.db'}"
        else:
            pg_server: str = request.getfixturevalue("pg_server")
            name, database_url = _create_pg_database(pg_server)
            cleanups.append(lambda: _drop_pg_database(pg_server, name))
        server = _launch(base, db, database_url)
        servers[db] = server
        return server

    try:
        yield start
    finally:
        for server in servers.values():
            server.stop()
        for cleanup in reversed(cleanups):
            cleanup()


@pytest.fixture(scope="session")
def e2e_server(start_server: Callable[..., E2EServer]) -> E2EServer:
    return start_server("sqlite")


# --- the browser ---------------------------------------------------------------------------------


def _wait_for_chromium(timeout: float = 300.0) -> None:
    """Chromium may still be being installed by apt when the session starts."""
    deadline = time.monotonic() + timeout
    while not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        if time.monotonic() > deadline:
            pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (make sysdeps)")
        time.sleep(2)


@pytest.fixture(scope="session")
def browser_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """HOME and TMPDIR of the Playwright driver and Chromium: temporary, so nothing lands in ~."""
    base = tmp_path_factory.mktemp("browser")
    (base / "home").mkdir()
    (base / "tmp").mkdir()
    env = dict(os.environ)
    env.update(HOME=str(base / "home"), TMPDIR=str(base / "tmp"))
    return env


# Package scope, not session: while the sync API is alive, the main thread has an asyncio loop marked
# as running, and every anyio test after it would fail with "Cannot run the event loop while another
# loop is running". Stopping Playwright when the last test of tests/e2e is done clears it.
@pytest.fixture(scope="package")
def playwright(browser_env: dict[str, str]) -> Iterator[Playwright]:
    with pytest.MonkeyPatch.context() as mp:  # the driver process inherits the environment at start
        for key in ("HOME", "TMPDIR"):
            mp.setenv(key, browser_env[key])
        manager = sync_playwright()
        pw = manager.start()
    try:
        yield pw
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture(scope="package")
def browser(playwright: Playwright, browser_env: dict[str, str]) -> Iterator[Browser]:
    _wait_for_chromium()
    env: dict[str, str | float | bool] = dict(browser_env)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=env)
    try:
        yield browser
    finally:
        browser.close()


EXPECTED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d ")


def _without_aborts(errors: list[str]) -> list[str]:
    """The console errors without htmx's report of a request it aborted on purpose: a typeahead
    (`hx-sync="this:replace"`) drops its previous lookup when a newer one starts, and htmx logs
    that as `htmx:afterRequest` followed by `htmx:sendAbort` on the same element."""
    kept: list[str] = []
    for entry in errors:
        if ": htmx:sendAbort, " in entry:
            element = entry.rsplit(", ", 1)[-1]
            if kept and ": htmx:afterRequest, " in kept[-1] and kept[-1].rsplit(", ", 1)[-1] == element:
                kept.pop()
            continue
        kept.append(entry)
    return kept


@dataclass
class Guard:
    """What the pages of one context did that a test must not allow: requests to another origin,
    uncaught errors, console errors."""

    origin: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reported: int = 0

    def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(f"{route.request.method} {url}")
            route.abort("blockedbyclient")

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"pageerror on {page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        # Chromium logs every 4xx answer of our own server as a console error. The 4xx answers
        # the UI gives on purpose (a form with errors, a refused action) are asserted by the tests
        # themselves; other origins are refused by `route`, and 5xx stays an error.
        if message.type == "error" and not EXPECTED_4XX.match(message.text):
            location = message.location
            self.errors.append(
                f"console error on {page.url} ({location.get('url')}:{location.get('lineNumber')}): {message.text}"
            )

    def problems(self) -> list[str]:
        return [f"external request: {b}" for b in self.blocked] + _without_aborts(self.errors)

    def check(self) -> None:
        """Fail with everything new since the last check."""
        problems = self.problems()
        new, self.reported = problems[self.reported :], len(problems)
        if new:
            pytest.fail("browser guard:\n  " + "\n  ".join(new), pytrace=False)


def new_guarded_context(browser: Browser, server: E2EServer, **options: Any) -> tuple[BrowserContext, Guard]:
    """A context like `context`'s, for another server or with other options (locale, viewport...)."""
    settings: dict[str, Any] = {
        "locale": "en-GB",
        "timezone_id": "Europe/Bucharest",
        "viewport": {"width": 1280, "height": 800},
        "reduced_motion": "reduce",
        "base_url": server.base_url,
        "service_workers": "block",
        **options,
    }
    context = browser.new_context(**settings)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    guard = Guard(origin=server.base_url)
    context.route("**/*", guard.route)
    context.on("page", guard.watch)
    return context, guard


GUARD_KEY = pytest.StashKey[Guard]()
FAILED_KEY = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A clean test body still fails when its pages made external requests or hit JS errors."""
    result = yield
    guard = item.stash.get(GUARD_KEY, None)
    if guard is not None:
        guard.check()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED_KEY] = True
    return report


@pytest.fixture
def context(browser: Browser, e2e_server: E2EServer, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    context, guard = new_guarded_context(browser, e2e_server)
    request.node.stash[GUARD_KEY] = guard
    context.tracing.start(screenshots=True, snapshots=True)
    try:
        yield context
    finally:
        if request.node.stash.get(FAILED_KEY, False):
            traces = artefact_dir() / "traces"
            traces.mkdir(parents=True, exist_ok=True)
            context.tracing.stop(path=traces / f"{_safe_name(request.node.nodeid)}.zip")
        else:
            context.tracing.stop()
        context.close()
    guard.check()  # anything that arrived after the test body


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# --- helpers -------------------------------------------------------------------------------------


def login(
    page: Page, username: str, password: str, *, expect_path: str = "/web/dashboard", lang: str | None = "en"
) -> None:
    """Sign in through the login form (opened first unless the page shows it) and wait for the
    dashboard (or `expect_path`); then switch the UI to `lang` if the user's stored language differs
    (a journey in another language may have changed it), so no test depends on the order of others."""
    if not page.url.split("?")[0].endswith("/web/login"):
        page.goto("/web/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"^[^?#]*{re.escape(expect_path)}(?:[?#].*)?$"))
    if lang is None:
        return
    current = page.locator("header form[action='/web/lang'] button[aria-current=true]")
    if current.get_attribute("value") != lang:
        page.locator(f"header form[action='/web/lang'] button[value={lang}]").click()
        expect(page.locator("html")).to_have_attribute("lang", lang)


def axe_scan(page: Page, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (`options` go to `axe.run`).

    The vendored axe.min.js is evaluated through the DevTools protocol rather than added with
    `page.add_script_tag(path=...)`: that inserts an inline <script>, which the UI's CSP
    (`script-src 'self'`) refuses, with a console error the guard would report.
    """
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} missing: run `make assets`")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(
        "async (options) => (await window.axe.run(document, options)).violations",
        {"resultTypes": ["violations"], **(options or {})},
    )
    return [v for v in violations if v.get("impact") in SERIOUS]


def format_violations(violations: list[dict[str, Any]]) -> str:
    """A readable list for assertion messages: rule, impact, help and the first targets."""
    return "\n".join(
        f"{v['id']} ({v.get('impact')}): {v.get('help')} at {[n.get('target') for n in v.get('nodes', [])[:5]]}"
        for v in violations
    )


def artefact_dir() -> Path:
    """Where screenshots and traces of this session go (under pytest's temporary directory)."""
    if _artefact_dir is None:
        raise RuntimeError("the e2e artefact directory is set by the _e2e_artefacts fixture")
    return _artefact_dir


@pytest.fixture(scope="session", autouse=True)
def _e2e_artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    global _artefact_dir  # the plain helpers (save_screenshot, traces) need it without a fixture
    _artefact_dir = tmp_path_factory.getbasetemp() / "e2e-artefacts"
    _artefact_dir.mkdir(parents=True, exist_ok=True)
    return _artefact_dir


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def save_screenshot(page: Page, name: str, **options: Any) -> Path:
    """A full-page screenshot (animations off, caret hidden) into `<pytest tmp>/e2e-artefacts/screenshots/`,
    and also into docs/screenshots/ when DEPOTFLOW_UPDATE_SCREENSHOTS=1. Returns the artefact path."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"invalid screenshot name: {name!r}")
    target = artefact_dir() / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")  # a sticky header would be drawn mid-page otherwise
    page.screenshot(path=target, full_page=True, animations="disabled", caret="hide", **options)
    if os.environ.get("DEPOTFLOW_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOTS_DIR / f"{name}.png")
    return target
