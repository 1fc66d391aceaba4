"""Screenshots of built pages in headless Chromium, light and dark, desktop and phone width.

    python -m tools.screenshot [--out DIR] [--html _build/html] PAGE [PAGE ...]

PAGE is a path inside the built site, e.g. index.html or 04Train/README.html. The site is
served on 127.0.0.1 for the duration; PNGs are written to DIR (default _build/screenshots).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.serve import CHROMIUM, CHROMIUM_ARGS, serve

SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--html", default="_build/html")
    ap.add_argument("--out", default="_build/screenshots")
    ap.add_argument("--full", action="store_true", help="whole page, not just the first screen")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with serve(args.html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for page_path in args.pages:
            for size, (w, h) in SIZES.items():
                for theme in ("light", "dark"):
                    ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=theme,
                                              device_scale_factor=1)
                    page = ctx.new_page()
                    page.goto(f"{base}/{page_path}", wait_until="networkidle")
                    name = page_path.replace("/", "_").removesuffix(".html")
                    target = out / f"{name}-{size}-{theme}.png"
                    page.screenshot(path=str(target), full_page=args.full)
                    print(target)
                    ctx.close()
        browser.close()


if __name__ == "__main__":
    main()
