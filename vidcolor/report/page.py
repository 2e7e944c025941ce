"""The report's ``index.html``: the table and the pictures with captions, self-contained.

:func:`page_html` makes the page of a scorer summary: its details, the metric table (the best
result of each metric in bold) and the figures with their :data:`CAPTIONS`; no external URLs,
no libraries.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from vidcolor.report.table import ARROWS, candidate_names, format_value, metric_rows

__all__ = ["CAPTIONS", "page_html"]


_KNOWN_KEYS = {"frames", "frame_size", "candidates", "metrics", "lightness_bands", "band_pixels",
               "series", "cumulative", "settings"}


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td { text-align: right; }
thead th { background: #eee; }
tbody th { text-align: left; font-weight: normal; }
td.best { font-weight: bold; }
th.truth, td.truth { background: #f4f4f4; color: #555; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; max-width: 60em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em;
     font-size: 0.9em; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
"""


# Each <img> reports to the body's data attributes, and once everything has loaded the page
# writes its scroll size there too: a headless browser's --dump-dom then shows both.
_SCRIPT = """
function imageLoaded() {
  var body = document.body; body.dataset.loaded = Number(body.dataset.loaded) + 1;
}
function imageFailed(img) {
  var body = document.body; body.dataset.failed = Number(body.dataset.failed) + 1;
  body.dataset.failedSrc = (body.dataset.failedSrc || "") + img.getAttribute("src") + " ";
}
window.addEventListener("load", function () {
  var root = document.documentElement, body = document.body;
  body.dataset.scrollWidth = Math.max(root.scrollWidth, body.scrollWidth);
  body.dataset.scrollHeight = Math.max(root.scrollHeight, body.scrollHeight);
});
"""


def _best(metrics: Mapping[str, Any], names: Sequence[str], key: str, better: str) -> set[str]:
    """The results (not grey, not truth) with the best value of a metric that has a direction.

    Grey is left out: it is trivially steady, so it would "win" every temporal measure.
    """
    if not better:
        return set()
    values = {}
    for name in names:
        value = metrics[name].get(key)
        if name not in ("grey", "truth") and value is not None:
            values[name] = float(value)
    if len(values) < 2:
        return set()
    target = min(values.values()) if better == "lower" else max(values.values())
    return {name for name, value in values.items() if value == target}


def _table_html(summary: Mapping[str, Any]) -> str:
    names = candidate_names(summary)
    metrics = summary["metrics"]
    head = "".join(
        f'<th class="{"truth" if name == "truth" else "candidate"}" '
        f'data-candidate="{html.escape(name)}">'
        f'{html.escape(name + (" (floor)" if name == "truth" else ""))}</th>' for name in names)
    rows = []
    for key, label, better in metric_rows(summary):
        best = _best(metrics, names, key, better)
        cells = "".join(
            f'<td data-candidate="{html.escape(name)}" class="'
            f'{"truth" if name == "truth" else ""}{" best" if name in best else ""}">'
            f"{html.escape(format_value(metrics[name].get(key)))}</td>" for name in names)
        rows.append(f'<tr data-key="{html.escape(key)}"><th>{html.escape(label)}'
                    f"{ARROWS[better]}</th>{cells}</tr>")
    return (f'<table id="metrics"><thead><tr><th>metric</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _details_html(summary: Mapping[str, Any]) -> str:
    items = []
    size = summary.get("frame_size") or [0, 0]
    items.append(("frames", f"{summary.get('frames', 0)} at {size[0]}×{size[1]}"))
    for key, value in summary.items():
        if key not in _KNOWN_KEYS:
            items.append((key, value if isinstance(value, str) else json.dumps(value)))
    for key, value in (summary.get("settings") or {}).items():
        items.append((key, value if isinstance(value, str) else json.dumps(value)))
    return "<dl>" + "".join(f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>"
                            for key, value in items) + "</dl>"


def _figure_html(source: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(source)}" alt="{html.escape(alt)}" '
            f'onload="imageLoaded()" onerror="imageFailed(this)">'
            f"<figcaption>{caption}</figcaption></figure>")


CAPTIONS = {
    "table": "One row per metric (↓ lower is better, ↑ higher is better; the best result in "
             "bold), one column per candidate. <em>grey</em> is the all-grey "
             "baseline (the truth's own L, a = b = 0). <em>truth</em> is the truth scored "
             "against itself: its per-frame figures are trivially perfect, and its warp error "
             "and CDC are the floor set by the video's own motion and cuts, so read every "
             "temporal figure beside it. RMSE αβ is the thesis's eq. 8.1 (a mean distance); "
             "PA is the fraction of pixels made inconsistent; AuC is Zhang et al.'s, plain and "
             "class-rebalanced; colourfulness is Hasler &amp; Süsstrunk's M (close to the "
             "truth's is right).",
    "curves": "Cumulative distribution of αβ errors (thesis Fig. 8.1): left, per pixel over all "
              "frames; right, per frame (its mean over pixels). Curves further up and to the "
              "left are better. The truth (all errors 0) is not drawn.",
    "sheet": "Comparison sheet (thesis Fig. 8.3): each row one frame, labelled with its number "
             "and why it is there; columns the grey input, each result, and the truth, each "
             "with its PSNR at that frame. <code>vidcolor evaluate</code> shows the middle of "
             "the worst, the median and the best shot by the mean PSNR of the first result "
             "(shots as render's shot stage finds them), and a credit screen when there is "
             "one; frames with a mean L below 10 (fades, black gaps) are never shown or "
             "counted.",
    "series": "Per frame: PSNR (top; the truth's is infinite and not drawn) and warp error of "
              "the pair ending at that frame (bottom; the truth's dotted line is the floor). "
              "Flicker shows as spikes above the floor.",
}


def page_html(title: str, summary: Mapping[str, Any], images: list[tuple[str, str, str]]) -> str:
    figures = "".join(_figure_html(*image) for image in images)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{_SCRIPT}</script></head>\n"
        f'<body data-images="{len(images)}" data-loaded="0" data-failed="0">'
        f"<h1>{html.escape(title)}</h1>{_details_html(summary)}"
        f"{_table_html(summary)}<p><small>{CAPTIONS['table']}</small></p>"
        f"{figures}</body></html>\n"
    )
