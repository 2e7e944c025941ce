"""Progress reporting shared by the stages.

Library functions take ``progress: bool``; the bar is tqdm on stderr (frames/s and ETA), and
``logging`` output is routed through ``tqdm.write`` by the CLI so it does not break the bars.
The CLI's ``--quiet`` turns bars off globally through :func:`set_enabled`.

When stderr is not a terminal (CI logs, pipes, files) a bar redraws at most every
:data:`LOG_INTERVAL` seconds instead of ten times a second, so a log gets a line every ~10 s
(still with rate and ETA), and the final line of each bar is kept.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

_enabled = True

#: Seconds between redraws of a bar whose output is not a terminal.
LOG_INTERVAL = 10.0


def set_enabled(enabled: bool) -> None:
    """Switch every progress bar on or off (the CLI's ``--quiet``)."""
    global _enabled
    _enabled = enabled


def _interactive(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a notebook's tqdm counts as one: it is a widget)."""
    if tqdm.__module__.startswith("tqdm.notebook"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(total: int | float | None = None, desc: str = "", unit: str = "frame",
        enabled: bool = True, **kwargs: Any) -> tqdm:
    """Return a tqdm bar, disabled when ``enabled`` is false or bars are globally off.

    On a non-terminal stderr (or ``file``) the bar redraws at most every
    :data:`LOG_INTERVAL` seconds and leaves its last line; explicit ``mininterval``,
    ``maxinterval`` or ``leave`` arguments win.
    """
    if not _interactive(kwargs.get("file") or sys.stderr):
        kwargs.setdefault("mininterval", LOG_INTERVAL)
        kwargs.setdefault("maxinterval", max(LOG_INTERVAL, kwargs["mininterval"]))
        kwargs.setdefault("leave", True)
    kwargs.setdefault("leave", False)
    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and _enabled),
                dynamic_ncols=True, **kwargs)
