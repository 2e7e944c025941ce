"""Inference: trained networks -> colourised frames -> output files.

* :mod:`~vidcolor.inference.colorizer` — the one inference path (models + decoding + size);
* :mod:`~vidcolor.inference.stages` — per-frame and sequence stages, their registries;
* :mod:`~vidcolor.inference.refine`, :mod:`~vidcolor.inference.ensemble` — segmentation + fill,
  combining models (SPEC §7);
* :mod:`~vidcolor.inference.pipeline` — the streaming driver;
* :mod:`~vidcolor.inference.sources`, :mod:`~vidcolor.inference.sinks` — inputs and
  resumable outputs;
* :mod:`~vidcolor.inference.render` — ``vidcolor render``;
* :mod:`~vidcolor.inference.options` — the validated options.

Sequence stages register themselves when their module is imported;
:mod:`~vidcolor.inference.options` imports the built-in ones. This package imports nothing
itself: a render's worker processes import it to run the frame stages, and must not load torch.
"""
