"""The options of a render, validated once.

:class:`RenderOptions` is built by the CLI (or by a library caller) and checks itself when it is
made; everything downstream trusts it. The choice lists come from the registries: refinements
from :data:`vidcolor.inference.refine.SEGMENTATIONS`, ensembles from
:data:`vidcolor.inference.ensemble.ENSEMBLE_METHODS`, decodings from
:data:`vidcolor.quantize.DECODE_METHODS`, sequence stages from
:data:`vidcolor.inference.stages.SEQUENCE_STAGES`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from vidcolor.errors import OptionError
from vidcolor.inference.ensemble import ENSEMBLE_METHODS
from vidcolor.inference.refine import SEGMENTATIONS, refine_methods
from vidcolor.inference.stages import SEQUENCE_STAGES
from vidcolor.quantize import parse_decode
from vidcolor.video import CHROMA, CRF_RANGE

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class RenderOptions:
    """How frames are colourised (everything but the inputs, outputs and models).

    The defaults are the render the README's measurements chose: region-growing regions in the
    series' palette, neutral ink and highlights, credit colours, temporal stabilisation, and
    60 % of the class rebalancing's bias undone.

    Attributes:
        refine: ``none`` or a registered segmentation (``regiongrow``, ``felzenszwalb``).
        refine_options: the segmentation's parameters (and ``working_scale``).
        ensemble: None (first model only), ``mean`` or ``histogram``.
        decode: ``expectation``, ``mode``, ``annealed`` or ``annealed:T``.
        size: the network's input side (multiple of 8).
        batch_size: frames per network batch.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        workers: worker processes for the per-frame stages (None: automatic, 0: in-process).
        sequence: the sequence stages to run, in order (names in ``SEQUENCE_STAGES``).
        palette: regions take the series' palette colour their prediction supports best
            (with a refinement, from a run with a ``series.json``; no effect without regions).
        neutral: each pixel's chroma at most what the series shows at its lightness (ink,
            shadows and highlights stay neutral).
        credits: credit screens detected in the grey input get the series' credit colours.
        chroma: the output video's chroma sampling, ``420`` or ``444``
            (:class:`vidcolor.video.VideoWriter`).
        crf: the output video's x264 constant rate factor (0 lossless ... 51).
        debias: how much of the class rebalancing's bias to undo in the predicted
            distributions, 0 (none) to 1 (all; see
            :class:`~vidcolor.inference.colorizer.Colorizer`).

    Raises:
        OptionError: an option value that cannot work (one line naming the option).
    """

    refine: str = "regiongrow"
    refine_options: dict[str, float] = field(default_factory=dict)
    ensemble: str | None = None
    decode: str = "annealed:0.38"
    size: int = 224
    batch_size: int = 8
    device: str = "auto"
    workers: int | None = None
    sequence: tuple[str, ...] = ("shots", "temporal")
    palette: bool = True
    neutral: bool = True
    credits: bool = True
    debias: float = 0.6
    chroma: str = "420"
    crf: int = 18

    def __post_init__(self) -> None:
        if self.refine not in refine_methods():
            raise OptionError(f"unknown --refine {self.refine!r}; choose one of "
                              f"{', '.join(refine_methods())}")
        if self.refine != "none":
            try:
                SEGMENTATIONS[self.refine].check(self.refine_options)
            except ValueError as exc:
                raise OptionError(str(exc)) from None
        elif self.refine_options:
            raise OptionError(f"segmentation option(s) {', '.join(self.refine_options)} need "
                              "--refine")
        if self.ensemble is not None and self.ensemble not in ENSEMBLE_METHODS:
            raise OptionError(f"unknown --ensemble {self.ensemble!r}; choose one of "
                              f"{', '.join(ENSEMBLE_METHODS)}")
        try:
            parse_decode(self.decode)
        except ValueError as exc:
            raise OptionError(f"--decode: {exc}") from None
        if not isinstance(self.size, int) or self.size < 8 or self.size % 8:
            raise OptionError(f"--size must be a positive multiple of 8, got {self.size}")
        if self.batch_size < 1:
            raise OptionError(f"--batch-size must be at least 1, got {self.batch_size}")
        if not _DEVICE.match(str(self.device)):
            raise OptionError(f"--device must be auto, cpu, cuda or cuda:N, got "
                              f"{self.device!r}")
        if not (isinstance(self.debias, (int, float)) and 0 <= self.debias <= 1):
            raise OptionError(f"--debias must be between 0 and 1, got {self.debias!r}")
        if self.chroma not in CHROMA:
            raise OptionError(f"--chroma must be one of {', '.join(CHROMA)}, got "
                              f"{self.chroma!r}")
        low, high = CRF_RANGE
        if not (isinstance(self.crf, int) and low <= self.crf <= high):
            raise OptionError(f"--crf must be an integer from {low} to {high}, got "
                              f"{self.crf!r}")
        if self.workers is not None and self.workers < 0:
            raise OptionError(f"--workers must be at least 0, got {self.workers}")
        unknown = [name for name in self.sequence if name not in SEQUENCE_STAGES]
        if unknown:
            raise OptionError(f"unknown sequence stage(s) {', '.join(unknown)}; known: "
                              f"{', '.join(SEQUENCE_STAGES) or 'none'}")

    def describe(self) -> dict[str, Any]:
        """The options that decide the output's pixels, as a JSON-able dict (for records)."""
        record = asdict(self)
        for key in ("batch_size", "device", "workers"):
            record.pop(key)
        record["sequence"] = list(self.sequence)
        return record
