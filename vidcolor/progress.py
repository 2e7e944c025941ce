"""Progress reporting shared by the stages.

Library functions take ``progress: bool``; the bar is tqdm on stderr (frames/s and ETA), and
``logging`` output is routed through ``tqdm.write`` by the CLI so it does not break the bars.
The CLI's ``--quiet`` turns bars off globally through :func:`set_enabled`.
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

_enabled = True


def set_enabled(enabled: bool) -> None:
    """Switch every progress bar on or off (the CLI's ``--quiet``)."""
    global _enabled
    _enabled = enabled


def bar(total: int | float | None = None, desc: str = "", unit: str = "frame",
        enabled: bool = True, **kwargs: Any) -> tqdm:
    """Return a tqdm bar, disabled when ``enabled`` is false or bars are globally off."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and _enabled),
                dynamic_ncols=True, leave=False, **kwargs)
