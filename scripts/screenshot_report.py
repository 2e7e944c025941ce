"""Screenshot an evaluation report's index.html in headless Chromium and check what it shows.

    python scripts/screenshot_report.py REPORT_DIR [-o shot.png] [--width 1280]

Chromium renders the page twice: once to learn its height (``--dump-dom`` after a virtual-time
budget, reading what the page's own script wrote into ``<body data-...>``), then at a window
that tall for the screenshot and the checks:

- every ``<img>`` loaded (``data-loaded`` equals ``data-images``, ``data-failed`` is 0);
- nothing is cut off (the page's ``scrollWidth`` and ``scrollHeight`` fit the window);
- every number of the rendered table equals ``report.json``'s, formatted the same way
  (:func:`vidcolor.report.table.format_value`), for every metric and candidate.

Prints one line per check and exits 1 if any fails (2 if Chromium is missing: on Debian,
``apt-get install -y chromium``). A tool for people and release checks, not a test: CI has no
browser.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars", "--virtual-time-budget=10000"]


class _Dom(HTMLParser):
    """The body's data attributes and the table cells ``{(key, candidate): text}``."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.cells: dict[tuple[str, str], str] = {}
        self.images: list[str] = []
        self._row: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.body = attributes
        elif tag == "tr":
            self._row = attributes.get("data-key")
        elif tag == "td" and self._row is not None:
            self._cell = attributes.get("data-candidate")
            self._text = []
        elif tag == "img":
            self.images.append(attributes.get("src", ""))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self.cells[(self._row, self._cell)] = "".join(self._text).strip()
            self._cell = None
        elif tag == "tr":
            self._row = None


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    print("chromium not found: on Debian/Ubuntu install it with `apt-get install -y chromium`",
          file=sys.stderr)
    raise SystemExit(2)


def _run(browser: str, page: Path, width: int, height: int, *extra: str) -> str:
    with tempfile.TemporaryDirectory(prefix="vidcolor-chromium-") as profile:
        command = [browser, *_FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", *extra, page.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"chromium failed with exit code {done.returncode}")
    return done.stdout


def _dom(browser: str, page: Path, width: int, height: int) -> _Dom:
    parser = _Dom()
    parser.feed(_run(browser, page, width, height, "--dump-dom"))
    return parser


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="screenshot PNG (default: REPORT_DIR/screenshot.png)")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels")
    args = parser.parse_args()

    from vidcolor.report.table import format_value, metric_rows
    from vidcolor.report.writer import INDEX_HTML, REPORT_JSON

    page = args.report_dir / INDEX_HTML
    report = json.loads((args.report_dir / REPORT_JSON).read_text(encoding="utf-8"))
    output = args.output or args.report_dir / "screenshot.png"
    browser = _chromium()

    first = _dom(browser, page, args.width, 800)
    if "data-scroll-height" not in first.body:
        print("FAIL the page never finished loading (no data-scroll-height on <body>)")
        return 1
    height = int(first.body["data-scroll-height"]) + 16
    dom = _dom(browser, page, args.width, height)
    _run(browser, page, args.width, height, f"--screenshot={output.resolve()}")

    failures = 0

    def check(ok: bool, message: str) -> None:
        nonlocal failures
        failures += not ok
        print(("ok   " if ok else "FAIL ") + message)

    body = dom.body
    expected_images = int(body.get("data-images", "-1"))
    check(expected_images == len(dom.images),
          f"{len(dom.images)} <img> on the page, data-images={expected_images}")
    check(body.get("data-loaded") == str(expected_images) and body.get("data-failed") == "0",
          f"images loaded: {body.get('data-loaded')} of {expected_images}, failed "
          f"{body.get('data-failed')} {body.get('data-failed-src', '')}".rstrip())
    scroll_width = int(body.get("data-scroll-width", "0"))
    scroll_height = int(body.get("data-scroll-height", "0"))
    check(0 < scroll_width <= args.width and 0 < scroll_height <= height,
          f"page {scroll_width}×{scroll_height} fits the window {args.width}×{height}")
    mismatches, compared = [], 0
    for key, _, _ in metric_rows(report):
        for name in report["candidates"]:
            want = format_value(report["metrics"][name].get(key))
            got = dom.cells.get((key, name))
            compared += 1
            if got != want:
                mismatches.append(f"{key}/{name}: page {got!r}, report.json {want!r}")
    check(not mismatches and compared > 0,
          f"{compared - len(mismatches)} of {compared} table numbers equal report.json")
    for line in mismatches[:10]:
        print("     " + line)
    print(f"screenshot: {output} ({args.width}×{height})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
