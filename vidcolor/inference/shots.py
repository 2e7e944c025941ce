"""Shot boundaries on the grey input: the sequence stage that marks where colour state must stop.

A frame starts a new shot when

* PySceneDetect's :class:`~scenedetect.detectors.HashDetector` (a perceptual hash of the grey
  thumbnail against the previous frame's) reports a cut there — it reports a cut at the frame
  itself, so the stage needs no look-ahead; on the demo series it found 27 of 31 hard cuts with
  no false cut, where the content detector (built for colour video, and given only V here)
  found 8-18 (``vidcolor.demo`` knows its cuts; measured by the session that chose it), or
* the frame is dark (mean L below :data:`DARK_LIGHTNESS`: a fade to or from black, or a black
  gap), or follows a dark frame — nothing is carried through darkness, so a fade-out/fade-in
  is always a boundary.

The first frame of a render is a shot start anyway. Sequence stages after this one (temporal
stabilisation) reset their state at every shot start, which is what makes the frames after a
cut independent of everything before it.
"""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.inference.stages import (
    FrameWork,
    SequenceStage,
    StageContext,
    register_sequence_stage,
)

#: A frame whose mean L is below this is dark (a fade through black).
DARK_LIGHTNESS = 6.0
#: HashDetector's threshold (PySceneDetect's default).
HASH_THRESHOLD = 0.395


class Shots(SequenceStage):
    """Marks ``work.shot_start`` on the first frame of every shot (see the module docstring)."""

    def __init__(self, context: StageContext | None = None) -> None:
        from scenedetect.common import FrameTimecode
        from scenedetect.detectors import HashDetector

        self._timecode = FrameTimecode
        self._detector = HashDetector(threshold=HASH_THRESHOLD, min_scene_len=1)
        self._previous_dark = False

    def push(self, work: FrameWork) -> list[FrameWork]:
        assert work.thumb is not None
        grey = np.clip(work.thumb * 2.55 + 0.5, 0, 255).astype(np.uint8)
        cuts = self._detector.process_frame(self._timecode(work.index, fps=24.0),
                                            cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        dark = float(work.thumb.mean()) < DARK_LIGHTNESS
        if dark or self._previous_dark or any(c.frame_num == work.index for c in cuts):
            work.shot_start = True
        self._previous_dark = dark
        return [work]


register_sequence_stage("shots", Shots)
