"""The options of a render, validated once.

:class:`RenderOptions` is built by the CLI (or by a library caller) and checks itself when it is
made; everything downstream trusts it. What only the models or the input can tell is checked as
soon as they are open, before any frame: :func:`check_memory` (the working memory of --size,
--batch-size and --workers against the machine's) and :func:`check_upscale` (--size against the
input's resolution). The choice lists come from the registries: refinements
from :data:`vidcolor.inference.refine.registry.SEGMENTATIONS`, ensembles from
:data:`vidcolor.inference.ensemble.ENSEMBLE_METHODS`, decodings from
:data:`vidcolor.quantize.DECODE_METHODS`, sequence stages from their declarations in
:data:`vidcolor.inference.stages.SEQUENCE_STAGES` (which import nothing: the command line
imports this module for its defaults, and ``temporal`` imports torch).

The command line's options are declared once: :meth:`RenderOptions.from_cli` takes render's and
evaluate's keyword arguments, the options of the segmentations' parameters (generated from their
declarations in :data:`~vidcolor.inference.refine.registry.SEGMENTATIONS`, see
:func:`segmentation_flags`) and the sequence stages' on/off flags (:func:`sequence_flags`)
included.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidcolor.color.grey import GREY_MODELS, GreyModel, as_grey_model
from vidcolor.devices import parse_device
from vidcolor.errors import OptionError
from vidcolor.inference.ensemble import ENSEMBLE_METHODS
from vidcolor.inference.refine.registry import (
    SEGMENTATIONS,
    Parameter,
    Segmentation,
    refine_methods,
)
from vidcolor.inference.stages import SEQUENCE_STAGES, SequenceEntry, sequence_of
from vidcolor.video.writer import CHROMA, CRF_RANGE

if TYPE_CHECKING:
    from vidcolor.inference.colorizer import Colorizer
    from vidcolor.inference.sources import Source

log = logging.getLogger(__name__)

#: The keyword of :meth:`RenderOptions.from_cli` that is not a field nor a generated flag:
#: ``--working-scale`` (goes to ``refine_options``).
_CLI_ONLY = ("working_scale",)


def segmentation_flags() -> list[tuple[str, Segmentation, Parameter]]:
    """The command-line options of the registered segmentations' parameters, in registry order:
    ``(flag, segmentation, parameter)``, e.g. ``("--fz-scale", felzenszwalb, scale)``; the
    keyword of :meth:`RenderOptions.from_cli` is the flag's click name (``fz_scale``)."""
    return [(flag, segmentation, parameter) for segmentation in SEGMENTATIONS.values()
            for parameter in segmentation.parameters
            if (flag := segmentation.flag(parameter)) is not None]


def sequence_flags() -> list[SequenceEntry]:
    """The sequence stages with a command-line flag (``--temporal/--no-temporal`` ...), in
    declaration order; the keyword of :meth:`RenderOptions.from_cli` is the flag's click name
    (``-`` as ``_``)."""
    return [entry for entry in SEQUENCE_STAGES.values() if entry.flag is not None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
            (:class:`vidcolor.video.writer.VideoWriter`).
        crf: the output video's x264 constant rate factor (0 lossless ... 51).
        grey: the grey model the input was made with (a name of
            :data:`vidcolor.color.grey.GREY_MODELS` or a
            :class:`~vidcolor.color.grey.GreyModel`): the output's colours are solved onto the
            input's grey under it. None: the run's (:meth:`with_run_grey`; luminance until
            then).
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
    sequence: tuple[str, ...] = sequence_of({})
    palette: bool = True
    neutral: bool = True
    credits: bool = True
    debias: float = 0.6
    chroma: str = "420"
    crf: int = 18
    grey: str | GreyModel | None = None

    @classmethod
    def from_cli(cls, **kwargs: Any) -> RenderOptions:
        """The options of render's or evaluate's command line, checked once.

        Args:
            **kwargs: the commands' keyword arguments: the fields (``refine``, ``size`` ...)
                but ``refine_options`` and ``sequence``; ``working_scale``; each sequence
                stage's flag (``temporal`` ..., :func:`sequence_flags`: on or off, with what it
                needs; None: its default); each segmentation parameter's option by its click
                name (``fz_scale`` ..., :func:`segmentation_flags`; None: not given). One not
                given takes its default.

        Raises:
            OptionError: an unknown keyword, a segmentation parameter without its ``--refine``,
                or a value the options refuse (one line naming the option).

        >>> RenderOptions.from_cli(refine="felzenszwalb", fz_scale=50.0).refine_options
        {'scale': 50.0}
        """
        flags = {flag[2:].replace("-", "_"): (flag, segmentation.name, parameter.name)
                 for flag, segmentation, parameter in segmentation_flags()}
        names = {item.name for item in fields(cls)} - {"refine_options", "sequence"}
        switches = {entry.flag.replace("-", "_"): entry.flag for entry in sequence_flags()}
        unknown = sorted(set(kwargs) - names - set(flags) - set(switches) - set(_CLI_ONLY))
        if unknown:
            raise OptionError(f"unknown render option(s) {', '.join(unknown)}")
        values = {key: value for key, value in kwargs.items() if key in names}
        refine = values.get("refine", cls.refine)
        segmentation: dict[str, float] = {}
        working_scale = kwargs.get("working_scale", 1.0)
        if refine != "none" and working_scale != 1.0:
            segmentation["working_scale"] = working_scale
        for keyword, (flag, method, name) in flags.items():
            if kwargs.get(keyword) is not None:
                if refine != method:
                    raise OptionError(f"{flag} needs --refine {method}")
                segmentation[name] = kwargs[keyword]
        if set(switches) & set(kwargs):
            values["sequence"] = sequence_of({flag: kwargs[keyword]
                                              for keyword, flag in switches.items()
                                              if kwargs.get(keyword) is not None})
        return cls(refine_options=segmentation, **values)

    def __post_init__(self) -> None:
        from vidcolor.quantize import parse_decode  # torch: not on importing this module

        if self.grey is not None and not isinstance(self.grey, GreyModel) \
                and self.grey not in GREY_MODELS:
            raise OptionError(f"unknown --grey {self.grey!r}; choose one of "
                              f"{', '.join(GREY_MODELS)}")
        if self.refine not in refine_methods():
            raise OptionError(f"unknown --refine {self.refine!r}; choose one of "
                              f"{', '.join(refine_methods())}")
        for name, value in self.refine_options.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and abs(value) < 2**31):
                raise OptionError(f"segmentation option {name} must be a finite number below "
                                  f"2^31, got {value!r}")
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
        if not _is_int(self.size) or self.size < 8 or self.size % 8:
            raise OptionError(f"--size must be a positive multiple of 8, got {self.size}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise OptionError(f"--batch-size must be at least 1, got {self.batch_size}")
        parse_device(self.device)
        if not (isinstance(self.debias, (int, float)) and 0 <= self.debias <= 1):
            raise OptionError(f"--debias must be between 0 and 1, got {self.debias!r}")
        if self.chroma not in CHROMA:
            raise OptionError(f"--chroma must be one of {', '.join(CHROMA)}, got "
                              f"{self.chroma!r}")
        low, high = CRF_RANGE
        if not (isinstance(self.crf, int) and low <= self.crf <= high):
            raise OptionError(f"--crf must be an integer from {low} to {high}, got "
                              f"{self.crf!r}")
        if self.workers is not None and (not _is_int(self.workers) or self.workers < 0):
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
        record.pop("grey")
        if self.grey_model.name != "luminance":  # the records of earlier renders stay valid
            record["grey"] = self.grey_model.to_dict()
        return record

    @property
    def grey_model(self) -> GreyModel:
        """The grey model the output is solved onto (luminance while none is known)."""
        return as_grey_model(self.grey or "luminance")

    def with_run_grey(self, run_grey: GreyModel) -> RenderOptions:
        """These options with the grey model of the run that renders: the run's where none
        was given; a given one that differs from it wins, with a warning (the network was
        trained on the run's greys)."""
        if self.grey is None:
            return replace(self, grey=run_grey)
        if self.grey_model != run_grey:
            log.warning("--grey %s overrides the run's grey model (%s): the network was "
                        "trained on greys made the run's way", self.grey_model.describe(),
                        run_grey.describe())
        return self


#: Memory of one worker process of the per-frame stages (a spawned interpreter with numpy,
#: OpenCV and vidcolor imported, and a few frames).
WORKER_BYTES = 200 << 20
#: The side of the blank frame the networks run on to measure their activations.
_PROBE_SIZE = 32


#: ``--size`` may exceed the default only up to this many times the input's longest side: more
#: only blurs the network's view and costs memory and time.
MAX_UPSCALE = 4


def check_upscale(source: Source, size: int) -> None:
    """Refuse a network size far beyond the input's own resolution (e.g. ``--size 4096`` on a
    64×48 clip): nothing is gained, and the memory and time grow with the square of it.

    Raises:
        OptionError: naming --size, the input's size and the largest useful value.
    """
    dims = None
    if source.video is not None:
        dims = (source.video.width, source.video.height)  # type: ignore[attr-defined]
    elif source.images:
        from PIL import Image

        with contextlib.suppress(Exception), Image.open(source.images[0]) as image:
            dims = image.size  # the header only
    if dims is None:
        return
    limit = max(RenderOptions.size, MAX_UPSCALE * max(dims) // 8 * 8)
    if size > limit:
        raise OptionError(f"--size {size} is more than {MAX_UPSCALE} times the "
                          f"{dims[0]}x{dims[1]} pixels of {source.path}: the network would see "
                          f"an upscaled blur at a great cost in memory and time; use --size "
                          f"{limit} or less (default {RenderOptions.size})")


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's RAM, or a smaller cgroup limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):
        total = min(total, int(Path("/sys/fs/cgroup/memory.max").read_text().strip()))
    return total


def _activation_bytes(colorizer: Colorizer, size: int) -> int:
    """Peak bytes of one frame's activations in the networks at input side ``size``: the
    largest input + output of any layer on a blank :data:`_PROBE_SIZE` frame, scaled by the
    area (a convolutional network's activations grow with its input's pixels)."""
    import torch

    peak = 0

    def hook(module: Any, inputs: Any, output: Any) -> None:
        nonlocal peak
        tensors = [t for t in (*inputs, output) if isinstance(t, torch.Tensor)]
        peak = max(peak, sum(t.numel() * t.element_size() for t in tensors))

    total = 0
    for model in colorizer.models:
        handles = [module.register_forward_hook(hook) for module in model.model.modules()
                   if not list(module.children())]
        try:
            with torch.inference_mode():
                model.model(torch.zeros(1, 1, _PROBE_SIZE, _PROBE_SIZE,
                                        device=colorizer.device))
        finally:
            for handle in handles:
                handle.remove()
        total, peak = total + peak, 0
    return total * size * size // (_PROBE_SIZE * _PROBE_SIZE)


def check_memory(colorizer: Colorizer, options: RenderOptions, workers: int) -> None:
    """Refuse options whose working memory exceeds the machine's, before any frame: a render
    that large is killed by the system with no message.

    The estimate: per frame of a network batch, the networks' peak activations and a few
    copies of their ``(size/4)² × bins`` float32 outputs (logits, softmax, decoding); the
    float16 distributions held by the temporal window and the frames in flight; and each
    worker process. With a GPU the batch counts against its memory, the rest against RAM.

    Raises:
        OptionError: naming --size, --batch-size and --workers and both figures.
    """
    import torch

    from vidcolor.inference.temporal import WINDOW

    size, batch = options.size, options.batch_size
    bins = max((len(m.bins) if m.bins is not None else 2) for m in colorizer.models)
    outputs = (size // 4) ** 2 * bins * 4  # one frame's output of one network, float32
    network = batch * (_activation_bytes(colorizer, size)
                       + (len(colorizer.models) + 4) * outputs)
    host = (WINDOW + 2 * batch + 2 * workers) * outputs // 2 + workers * WORKER_BYTES
    budgets = [(host, machine_memory(), "memory")]
    if colorizer.device.type == "cuda":
        gpu = torch.cuda.get_device_properties(colorizer.device).total_memory
        budgets.append((network, gpu, f"memory on {colorizer.device}"))
    else:
        budgets[0] = (host + network, budgets[0][1], "memory")
    for need, have, where in budgets:
        if need > have:
            raise OptionError(
                f"--size {size} with --batch-size {batch} and --workers {workers} needs about "
                f"{_gib(need)} of {where}; this machine has {_gib(have)}: use a smaller "
                f"--size (default {RenderOptions.size}), --batch-size or --workers")


def _gib(count: int) -> str:
    return f"{count / 2**30:.3g} GiB" if count < 2**70 else f"2^{count.bit_length() - 1} bytes"
