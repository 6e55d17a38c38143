"""Driving Debian's Chromium with Playwright: the `browser` fixture (registered in
conftest), logging in, and where screenshots go."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop around; the ORM calls in this test are
    # ordinary synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Chromium is missing: `make test` installs Debian's chromium."
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        # Inside Playwright's context the ORM runs in a context of its own (greenlets carry
        # their own context variables), so it holds a database connection that
        # pytest-django never sees: close it, or it outlives the test database.
        connections.close_all()
        browser.close()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill("pw-for-tests-1")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# The rules a Swedish public service must meet (WCAG 2.1 level A and AA; the law on
# accessibility of digital public services points at EN 301 549, which points at them).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# And three of axe's best practices that the walk through the back office found broken
# (a second accesskey "s", table headers without text, a page without a heading).
ALSO_RULES = ["accesskeys", "empty-table-header", "page-has-heading-one"]


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.0/2.1 A and AA violations (and ALSO_RULES') on the page as it is
    now, one line per rule with the elements it found. axe is evaluated through the
    DevTools protocol (page.evaluate), which the page's content security policy does not
    govern: no script tag is added, and the policy stays as production sends it."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        """async ([tags, rules]) => {
            const r = await axe.run(document, {
                runOnly: {type: "tag", values: [...tags, "best-practice"]},
                resultTypes: ["violations"]});
            return r.violations
                .filter(v => rules.includes(v.id) || v.tags.some(t => tags.includes(t)))
                .map(v => v.id + " (" + v.impact + "): " + v.help + " – "
                    + v.nodes.map(n => n.target.join(" ")).join(", "));
        }""",
        [WCAG_TAGS, ALSO_RULES],
    )
    return list(results)


# A phone held upright, and 1,280 px at 400 % zoom (WCAG 1.4.10 reflow); and the desk's
# common laptop screen.
WIDTHS = (320, 1366)


def overflowing(page: Page) -> list[str]:
    """The elements that stick out to the right of the viewport (the page scrolls
    sideways), outermost first; those inside a box that scrolls by itself are fine."""
    return list(
        page.evaluate(
            r"""() => {
            const width = document.documentElement.clientWidth;
            const out = [];
            for (const el of document.body.querySelectorAll("*")) {
                if (el.closest(".table-scroll, .sr-only, .skip")) continue;
                const box = el.getBoundingClientRect();
                if (box.width && box.right > width + 1
                    && !out.some(o => o.contains(el))) out.push(el);
            }
            return out.map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                + (el.className && typeof el.className === "string"
                   ? "." + el.className.trim().split(/\s+/).join(".") : ""));
        }"""
        )
    )


def assert_accessible(page: Page, name: str) -> None:
    """No WCAG 2.1 A/AA violation on the page at 320 px and at 1,366 px, and nothing
    scrolling sideways at 320 px (reflow); a screenshot `name`-320.png and `name`.png
    either way. The viewport is put back as it was."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or {"width": 1366, "height": 900}
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": before["height"]})
            suffix = "" if width == max(WIDTHS) else f"-{width}"
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
            violations = axe_violations(page)
            assert violations == [], f"{name} at {width} px: " + "\n".join(violations)
            if width == min(WIDTHS):
                wide = page.evaluate("() => document.documentElement.scrollWidth")
                assert wide <= width, f"{name} is {wide} px wide at {width} px: " + ", ".join(
                    overflowing(page)
                )
    finally:
        page.set_viewport_size(before)
