"""Render _static/social-card.png (1200×630, the OpenGraph image) from _static/social-card.svg
with headless Chromium: python -m tools.social_card"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "_static"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tools.serve import CHROMIUM, CHROMIUM_ARGS

    svg = (STATIC / "social-card.svg").read_text(encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 630})
        page.set_content(f"<html><body style='margin:0'>{svg}</body></html>")
        page.screenshot(path=str(STATIC / "social-card.png"))
        browser.close()
    print(STATIC / "social-card.png")


if __name__ == "__main__":
    main()
