"""The series' look learnt from a dataset: the palette of its training frames and the colours
and grey signature of the credit screens its build dropped, kept in ``series.json`` beside the
dataset and learnt again when the training episodes change (:func:`_learn_look`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidcolor.color.grey import GreyModel
from vidcolor.dataset.reader import dataset_grey_model, load_split
from vidcolor.dataset.records import _grey_of_meta, read_excluded
from vidcolor.errors import DatasetError
from vidcolor.fsutil import read_json, write_json_atomic

if TYPE_CHECKING:
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)


def learn_look(dataset_dir: str | os.PathLike[str], *, max_frames: int = 400,
               progress: bool = False, grey: GreyModel | None = None) -> SeriesLook:
    """Learn a series' look from a dataset's training frames and its excluded credit frames.

    Args:
        dataset_dir: a dataset built by ``vidcolor build-dataset``.
        max_frames: read at most this many training frames (evenly spaced).
        progress: show a progress bar.
        grey: the grey model the black and white is made with (None: the dataset's): the look
            and the credit screens' grey signature are learnt in the lightness of its grey.

    Raises:
        DatasetError: no usable dataset.
    """
    from vidcolor import progress as progress_mod
    from vidcolor.inference.sources import read_image
    from vidcolor.series.learn import learn_credit_grey, learn_credits, look_of_frames

    paths = load_split(dataset_dir, "train")
    if len(paths) > max_frames:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, max_frames).round().astype(int)]
    excluded = [f for f in read_excluded(dataset_dir)
                if f.background_rgb is not None and f.text_rgb is not None]
    credits = learn_credits([f.background_rgb for f in excluded],  # type: ignore[misc]
                            [f.text_rgb for f in excluded])  # type: ignore[misc]
    model = dataset_grey_model(dataset_dir) if grey is None else grey
    # each credit frame's signature, measured at extraction on the model's grey of it
    signed = [f for f in excluded if f.grey_background_y is not None
              and f.grey_text_y is not None]
    credit_grey = learn_credit_grey([f.grey_background_y for f in signed],  # type: ignore[misc]
                                    [f.grey_text_y for f in signed])  # type: ignore[misc]
    with progress_mod.bar(total=len(paths), desc="series look", unit="frame",
                          enabled=progress) as bar:
        frames = (read_image(path)[0] for path in paths)
        look = look_of_frames(_counted(frames, bar), credits, model)
    look.credit_grey = credit_grey if credits is not None else None
    log.info("series look: %d palette colours, %s", len(look.palette),
             "credit colours learnt" if credits else "no credit colours")
    return look


def _counted(frames: Iterable[np.ndarray], bar: Any) -> Iterable[np.ndarray]:
    for frame in frames:
        yield frame
        bar.update(1)


def _learn_look(output: Path, meta: dict, progress_bar: bool) -> None:
    """(Re)learn the series look (``series.json``) when the training episodes or the way it is
    learnt changed."""
    from vidcolor.series import LOOK_VERSION, SERIES_FILE

    episodes = {name: [info.get("bytes"), info.get("mtime")]
                for name, info in sorted(meta["episodes"].items())
                if info.get("split") == "train"}
    path = output / SERIES_FILE
    if not episodes:
        return
    try:
        stored = read_json(path)
    except DatasetError:
        stored = None  # damaged: learn it again
    grey = _grey_of_meta(meta)
    if (isinstance(stored, dict) and stored.get("episodes") == episodes
            and stored.get("version") == LOOK_VERSION
            and stored.get("grey", {"name": "luminance"}) == grey.to_dict()):
        return
    look = learn_look(output, progress=progress_bar, grey=grey)
    write_json_atomic(path, {**look.to_json(), "episodes": episodes, "grey": grey.to_dict()})
