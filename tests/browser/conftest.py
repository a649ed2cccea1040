"""Browser tests: Playwright driving the machine's Chromium against pytest-django's live server.

Every test under ``tests/browser`` is marked ``browser`` (select them with ``-m browser``). The
browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright's own browser builds
are never downloaded. Without that binary, or without the ``playwright`` package, the tests skip
with a one-line reason.

Fixtures:
- ``browser``: one headless Chromium per session.
- ``page``: a fresh context and page, watched (see ``PageWatch``); outside hosts are refused.
- ``admin_page``: ``page`` logged in as ``browser_superuser`` through a real session cookie.
- ``page_watch``: the watch of ``page``: console errors, page errors, requests to outside hosts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM_PATH = Path(os.environ.get("CHAINLAKE_CHROMIUM", "/usr/bin/chromium"))
BROWSER_TESTS_DIR = Path(__file__).resolve().parent
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Every host name but loopback fails to resolve inside the browser: nothing leaves the machine.
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
# The live server is on loopback; no browser test waits for anything slower than this.
DEFAULT_TIMEOUT_MS = 15_000

# Playwright's sync API runs an event loop in the test's thread, which makes Django's ORM refuse
# to run there ("You cannot call this from an async context"). The tests only use the ORM between
# browser calls, never concurrently with them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# (path, seconds until the load event) of every page a test timed with ``load_seconds``.
PAGE_TIMINGS: list[tuple[str, float]] = []


def pytest_terminal_summary(terminalreporter):
    if PAGE_TIMINGS:
        terminalreporter.section("page load times (browser clock, until the load event)")
        for path, seconds in PAGE_TIMINGS:
            terminalreporter.write_line(f"{seconds * 1000:7.0f} ms  {path}")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_TESTS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (CHROMIUM_PATH.exists() or shutil.which(str(CHROMIUM_PATH))):
        return f"no Chromium at {CHROMIUM_PATH} (apt-get install -y chromium)"
    return None


def is_loopback(url: str) -> bool:
    """True for URLs the browser may load: the live server's own host, data: and blob: URLs."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome-error"}:
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass
class PageWatch:
    """What a page did that a test must not allow: console errors, uncaught errors, outside requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))
        # Recorded from events, not by intercepting requests (interception would pass every
        # request through this process and slow pages down); the browser itself cannot resolve
        # outside hosts (see ``OFFLINE_ARGS``), so a test never waits on the network.
        context.on("request", self._on_request)

    def _on_console(self, message) -> None:
        if message.type == "error":
            location = message.location or {}
            self.console_errors.append(f"{message.text} ({location.get('url', '')})")

    def _on_request(self, request) -> None:
        if not is_loopback(request.url):
            self.outside_requests.append(request.url)

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"outside request: {url}" for url in self.outside_requests]
        )

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.outside_requests.clear()


@pytest.fixture(scope="session")
def browser():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH),
            headless=True,
            # Root in a container: Chromium's sandbox needs user namespaces it may not have.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", *OFFLINE_ARGS],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


_warmed: set[str] = set()


def _warm_up(url: str) -> None:
    """The first requests to a fresh server pay for lazy imports (URL conf, templates, the schema
    generator); pay them once per server, not inside a test's page timing."""
    if url in _warmed:
        return
    _warmed.add(url)
    for path in ("/admin/login/", "/api/schema/swagger/"):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url + path, timeout=30).read()


@pytest.fixture
def browser_context(browser, live_server, page_watch):
    from django.core.cache import cache

    _warm_up(live_server.url)
    # Each test starts from a fresh database: nothing cached (dashboard figures, page starts) may
    # describe an earlier test's.
    cache.clear()
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page_watch.attach(context)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


BROWSER_PASSWORD = "browser-pw-1"


@pytest.fixture
def browser_superuser(transactional_db):
    from testkit.factories import UserFactory

    return UserFactory(
        external_id="admin",
        email="admin@example.com",
        is_staff=True,
        is_superuser=True,
        role="owner",
        password=BROWSER_PASSWORD,
    )


@pytest.fixture
def admin_page(page, browser_context, browser_superuser, live_server):
    """``page`` with the superuser's session cookie: already logged in to the admin."""
    from django.test import Client

    client = Client()
    client.force_login(browser_superuser)
    session_cookie = client.cookies["sessionid"]
    browser_context.add_cookies(
        [{"name": "sessionid", "value": session_cookie.value, "url": live_server.url}]
    )
    return page


def load_seconds(page, path: str) -> float:
    """Open ``path`` and return how long the page took until its load event, from the browser's clock."""
    page.goto(path, wait_until="load")
    return page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return (n.loadEventEnd - n.startTime) / 1000; }"
    )


def log_in(page, *, username: str, password: str) -> None:
    """Log in through the admin's login form, as a person would."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    page.wait_for_url("**/admin/")
