"""Shot boundaries on the grey input: the sequence stage that marks where colour state must stop.

A frame starts a new shot when

* PySceneDetect reports a cut there: its :class:`~scenedetect.detectors.HashDetector` (a
  perceptual hash of the grey thumbnail against the previous frame's) or its
  :class:`~scenedetect.detectors.ContentDetector` (the mean change of the pixels, threshold
  :data:`CONTENT_THRESHOLD`). Both report a cut at the frame itself, so the stage needs no
  look-ahead. On the demo series' four episodes (``vidcolor.demo`` knows its 31 hard cuts) the
  hash found 27 with no false cut, the content detector at its default threshold 27 only 8 (it
  is built for colour video and sees only V here) and at 15 18, the two together 28 with no
  false cut; the hash alone missed a cut between two plain scenes of different brightness, or
* the frame has another size than the one before (a folder of images of several sizes), or
* the frame is dark (mean L below :data:`DARK_LIGHTNESS`: a fade to or from black, or a black
  gap), or follows a dark frame — nothing is carried through darkness, so a fade-out/fade-in
  is always a boundary.

The first frame of a render is a shot start anyway. Sequence stages after this one (temporal
stabilisation) reset their state at every shot start, which is what makes the frames after a
cut independent of everything before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import cv2

from vidcolor.color.frames import grey_u8
from vidcolor.inference.stages import (
    FrameWork,
    SequenceStage,
    StageContext,
    thumbnail,
)

if TYPE_CHECKING:
    from vidcolor.inference.sources import Source

#: A frame whose mean L is below this is dark (a fade through black).
DARK_LIGHTNESS = 6.0
#: Gaussian blur (thumbnail pixels) of the grey the detectors see.
DETECT_BLUR = 1.0
#: HashDetector's threshold (PySceneDetect's default).
HASH_THRESHOLD = 0.395
#: ContentDetector's threshold on grey frames (its default, 27, is for colour: hue and
#: saturation add to the change there).
CONTENT_THRESHOLD = 15.0


class Shots(SequenceStage):
    """Marks ``work.shot_start`` on the first frame of every shot (see the module docstring)."""

    def __init__(self, context: StageContext | None = None) -> None:
        from scenedetect.common import FrameTimecode
        from scenedetect.detectors import ContentDetector, HashDetector

        self._timecode = FrameTimecode
        self._make = lambda: [HashDetector(threshold=HASH_THRESHOLD, min_scene_len=1),
                              ContentDetector(threshold=CONTENT_THRESHOLD, min_scene_len=1)]
        self._detectors = self._make()
        self._previous_dark = False
        self._shape: tuple[int, ...] | None = None

    def push(self, work: FrameWork) -> list[FrameWork]:
        assert work.thumb is not None
        # the detectors see the picture, not a film print's grain and weave: on the demo's
        # film twin, HashDetector cut inside a shot (a big change of drawing the clean twin
        # keeps below its threshold); blurred, both twins give the same cuts
        grey = cv2.cvtColor(cv2.GaussianBlur(grey_u8(work.thumb), (0, 0), DETECT_BLUR),
                            cv2.COLOR_GRAY2BGR)
        timecode = self._timecode(work.index, fps=24.0)
        cut = self._shape is not None and grey.shape != self._shape  # images of another size
        if cut:
            self._detectors = self._make()
        self._shape = grey.shape
        for detector in self._detectors:  # each must see every frame
            cut |= any(c.frame_num == work.index for c in detector.process_frame(timecode, grey))
        dark = float(work.thumb.mean()) < DARK_LIGHTNESS
        if dark or self._previous_dark or cut:
            work.shot_start = True
        self._previous_dark = dark
        return [work]



def shot_frames(source: Source) -> Iterator[FrameWork]:
    """Every frame of ``source`` with its L, its thumbnail and ``shot_start`` marked by the
    render's own :class:`Shots` (the same boundaries as a render of it)."""
    from vidcolor.color.frames import lightness

    detector = Shots()
    for index, frame in enumerate(source.frames()):
        light = lightness(frame.rgb)
        yield from detector.push(FrameWork(index=index, key=frame.key, pts=frame.pts,
                                           lightness=light, thumb=thumbnail(light),
                                           shot_start=index == 0))
