"""The streaming render pipeline: source frames -> network -> stages -> finished frames.

::

    source (decode + L, a thread) -> Colorizer (batched, main process, on the device)
      -> frame stages (worker processes, a bounded number of frames in flight)
      -> sequence stages (main process, in order, bounded windows)
      -> frame stages (worker processes) -> finished FrameWork (rgb) in order

The chain is a series of generators pulled by the consumer (a sink writing a video, or the
evaluator), so memory stays bounded however long the input is; the network works on the next
batch while the workers finish earlier frames. Every frame's result depends only on the frames
of its own shot (the sequence stages reset at shot boundaries) and on the network's output for
it. That output does not depend on how frames were batched as far as the network's kernels
give a frame the same result in any batch: oneDNN does not promise it; on the 2-core CPU the
demo model's outputs were bit-identical across batch sizes 3 and 8 and shifted batches, and
the tests compare resumed renders within a stated tolerance.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from vidcolor.background import prefetch
from vidcolor.color.frames import lightness
from vidcolor.errors import VidcolorError
from vidcolor.inference.colorizer import Colorizer
from vidcolor.inference.options import RenderOptions
from vidcolor.inference.stages import (
    FrameStage,
    FrameWork,
    SequenceStage,
    SourceFrame,
    StageContext,
    build_stages,
    thumbnail,
)
from vidcolor.inference.workers import available_cpus, make_pool  # noqa: F401 - re-exported
from vidcolor.inference.workers import run_frame_stages as _run_group

if TYPE_CHECKING:
    from vidcolor.inference.hints import HintMaps
    from vidcolor.series import SeriesLook

log = logging.getLogger(__name__)


def default_workers(options: RenderOptions) -> int:
    """Worker processes for ``options``: every core but one when refining; without refinement
    the per-frame work is light (~10 ms), so workers only pay off on more than 2 cores."""
    if options.workers is not None:
        return options.workers
    cpus = available_cpus()
    return max(1, cpus - 1) if options.refine != "none" else (cpus - 1 if cpus > 2 else 0)


class Pipeline:
    """Colourise a stream of frames with a :class:`Colorizer` and :class:`RenderOptions`.

    Args:
        colorizer: the loaded models.
        options: the validated render options.
        pool: an executor for the frame stages (None: run them in this process). The caller
            owns it (:func:`make_pool`), so several pipelines can share one.
        look: the series' look (palette, chroma ceiling, credit colours), if the run has one.
        views: keep the sequence stages' views (e.g. per-frame beside temporal colours).
        hints: keyframe hints carried through their shots (:func:`vidcolor.inference.hints.
            plan_hints`), applied last of the sequence stages.
    """

    def __init__(self, colorizer: Colorizer, options: RenderOptions,
                 pool: Executor | None = None, look: SeriesLook | None = None,
                 views: bool = False, hints: HintMaps | None = None) -> None:
        self.colorizer = colorizer
        self.options = options
        self.pool = pool
        self.look = look
        self.views = views
        self.hints = hints

    def run(self, frames: Iterable[SourceFrame], *, first_index: int = 0
            ) -> Iterator[FrameWork]:
        """Yield every frame finished (``rgb`` set), in order.

        Args:
            frames: the input frames, in order.
            first_index: the sequence index of the first frame (a resumed render starts
                inside the input; that frame starts a shot).

        Raises:
            VidcolorError: a worker process died.
        """
        stages = build_stages(StageContext(self.options, self.look, self.colorizer.bins,
                                           self.views, self.hints))
        needs_probs = any(stage.needs_probs for stage in stages)
        needs_ab = not any(isinstance(stage, SequenceStage) and stage.replaces_ab
                           for stage in stages)
        sequence = any(isinstance(stage, SequenceStage) for stage in stages)
        # decoding and each frame's L run in a thread, ahead of the network
        depth = 2 * self.options.batch_size
        works = prefetch(_with_lightness(iter(frames), sequence, first_index), depth,
                         "vidcolor-decode")
        chain: Iterator[FrameWork] = self._predict(works, needs_probs, needs_ab)
        group: list[FrameStage] = []
        for stage in stages:
            if isinstance(stage, SequenceStage):
                if group:
                    chain = self._frame_group(chain, group)
                    group = []
                chain = _sequence(chain, stage)
            else:
                group.append(stage)
        if group:
            chain = self._frame_group(chain, group)
        try:
            yield from chain
        except BrokenProcessPool as exc:
            raise VidcolorError(f"a worker process died ({exc}); re-run with --workers 0 to "
                                "see why") from exc
        finally:
            chain.close()
            works.close()

    def _predict(self, works: Iterator[FrameWork], needs_probs: bool, needs_ab: bool
                 ) -> Iterator[FrameWork]:
        batch: list[FrameWork] = []
        for work in works:
            batch.append(work)
            if len(batch) == self.options.batch_size:
                yield from self._predict_batch(batch, needs_probs, needs_ab)
                batch = []
        if batch:
            yield from self._predict_batch(batch, needs_probs, needs_ab)

    def _predict_batch(self, batch: list[FrameWork], needs_probs: bool, needs_ab: bool
                       ) -> list[FrameWork]:
        predictions = self.colorizer.predict([w.lightness for w in batch],
                                             with_probs=needs_probs, with_ab=needs_ab)
        for work, prediction in zip(batch, predictions, strict=True):
            work.ab_small, work.probs = prediction.ab, prediction.probs
        return batch

    def _frame_group(self, works: Iterator[FrameWork], stages: list[FrameStage]
                     ) -> Iterator[FrameWork]:
        if self.pool is None:
            for work in works:
                yield _run_group(stages, work)
            return
        # bounded in flight: enough to keep every worker busy while the network runs a batch
        workers = getattr(self.pool, "_max_workers", 1)
        limit = 2 * workers + self.options.batch_size
        pending: collections.deque[Future[FrameWork]] = collections.deque()
        try:
            for work in works:
                pending.append(self.pool.submit(_run_group, stages, work))
                while len(pending) > limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for job in pending:
                job.cancel()


def _with_lightness(frames: Iterator[SourceFrame], thumbs: bool, first: int
                    ) -> Iterator[FrameWork]:
    for index, frame in enumerate(frames, start=first):
        light = lightness(frame.rgb)
        yield FrameWork(index=index, key=frame.key, pts=frame.pts, lightness=light,
                        thumb=thumbnail(light) if thumbs else None, alpha=frame.alpha,
                        shot_start=index == first)


def _sequence(works: Iterator[FrameWork], stage: SequenceStage) -> Iterator[FrameWork]:
    for work in works:
        yield from stage.push(work)
    yield from stage.flush()
