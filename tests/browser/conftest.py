"""Browser tests: pytest-playwright driving Debian's Chromium against pytest-django's live_server.

Every page a test opens is watched: a console error (a Content-Security-Policy violation
included), an uncaught exception or a request to any host other than the live server fails the
test (checked when the test ends).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
AXE_JS = Path(__file__).with_name("vendor") / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Merge into the plugin's options (keeps --headed, --slowmo...): Debian's Chromium, not a
    # Playwright download, and no background traffic to Google.
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


def pytest_collection_modifyitems(items):
    """Run the browser tests last: Playwright's event loop lives until the session ends, and
    Django refuses synchronous database work beside a running loop in the other tests."""
    here = Path(__file__).parent
    browser = [item for item in items if here in Path(str(item.fspath)).parents]
    items[:] = [item for item in items if item not in browser] + browser


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright(django_db_setup):
    """Playwright's sync API runs an event loop in this thread: let Django's ORM run beside it.

    Session-scoped because the loop lives until the session ends (database flushes after each
    test included); the hook above runs these tests last, so no other test sees the variable.
    Depending on django_db_setup creates the test database before the loop starts.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageGuard:
    """Collects console errors, page errors and off-site requests for one page."""

    def __init__(self, page, server_url: str):
        self.origin = urlsplit(server_url).netloc
        self.problems: list[str] = []
        self.allowed: list[str] = []
        # Chromium logs refused loads itself; this also names inline code the policy stopped.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sample + ' at ' + e.sourceFile + ':' + e.lineNumber))"
        )
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location})")

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != self.origin:
            self.problems.append(f"request left the live server: {request.method} {request.url}")

    def _request_failed(self, request) -> None:
        if urlsplit(request.url).netloc == self.origin and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        # A page may answer 400 on purpose (an invalid form); tests check documents themselves.
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def allow(self, text: str) -> None:
        """Ignore problems containing `text` (an error the test provokes on purpose), including
        ones reported after this call: console messages arrive asynchronously."""
        self.allowed.append(text)

    def check(self) -> None:
        problems = [p for p in self.problems if not any(text in p for text in self.allowed)]
        self.problems = []
        assert not problems, "\n".join(problems)


@pytest.fixture
def guard(page, live_server):
    """The page's PageGuard; the test fails if anything went wrong on the page."""
    page_guard = PageGuard(page, live_server.url)
    yield page_guard
    page_guard.check()


@pytest.fixture
def axe_check():
    """Run axe-core on the current page; fail on serious or critical violations.

    All violations (any impact) are written to artifacts/axe/<name>.json for review.
    """
    source = AXE_JS.read_text(encoding="utf-8")

    def run_once(page) -> list[dict]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Not add_script_tag: an inline <script> is what the site's CSP refuses. Evaluated
            # through the DevTools protocol, as a console would, it runs under any policy.
            page.evaluate(source + "\n;true")
        return page.evaluate(
            "() => axe.run(document, {resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))})))"
        )

    def run(page, name: str) -> dict[str, list[dict]]:
        """Check at desktop and phone widths (layouts differ: scrolling tables, wrapping)."""
        original, results = page.viewport_size, {}
        for label, size in VIEWPORTS.items():
            page.set_viewport_size(size)
            results[label] = run_once(page)
        page.set_viewport_size(original)
        out = ARTIFACTS / "axe" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2), encoding="utf-8")
        bad = {
            label: [v for v in found if v["impact"] in ("serious", "critical")]
            for label, found in results.items()
        }
        assert not any(bad.values()), f"axe on {name}: " + json.dumps(bad, indent=2)
        return results

    return run


@pytest.fixture
def screenshot():
    """Save full-page screenshots of the current page at desktop and phone widths."""

    def shoot(page, name: str, widths: tuple[str, ...] = tuple(VIEWPORTS)) -> None:
        original = page.viewport_size
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        for label in widths:
            size = VIEWPORTS[label]
            page.set_viewport_size(size)
            page.wait_for_timeout(100)  # let the layout settle after the resize
            page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size(original)

    return shoot
