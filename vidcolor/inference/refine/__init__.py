"""Refinement of predicted colours by segmentation and flood fill (SPEC §7, thesis 8.4.1).

Cartoons have flat colour areas bounded by drawn lines, so the grey frame alone says where a
colour may change. Segment the full-resolution luminance into regions, then paint every region
with one colour: k-means (k = 2) on the region's predicted ab, the larger cluster's centroid
(:mod:`~vidcolor.inference.refine.fill`).

Two segmentations, one module each:

- :mod:`~vidcolor.inference.refine.regiongrow`: seeded 4-neighbourhood region growing,
  mean-shift style (thesis: threshold 3/51 on L normalised to [0, 1]; first seed (0, 0); each
  next seed is the pixel farthest from everything segmented so far; stop when no pixel is
  farther than 4 px).
- :mod:`~vidcolor.inference.refine.felzenszwalb`: Felzenszwalb–Huttenlocher graph segmentation
  (scikit-image), better on subtle edges.

A film print's grey (grain, dust, the vertical scratches of a projector's gate; see
:mod:`vidcolor.film`) is not flat: a scratch down the frame cuts every region it crosses in two.
:func:`~vidcolor.inference.refine.grey.clean_for_segmentation` takes the scratches out of the
grey the regions are found on (a clean digital grey has none, and is segmented exactly as
before). Only the labels come from the cleaned grey; the output keeps the input's own grey,
grain included.

Segmentations are registered in :data:`~vidcolor.inference.refine.registry.SEGMENTATIONS`
(name -> :class:`~vidcolor.inference.refine.registry.Segmentation`: the function and its typed
:class:`~vidcolor.inference.refine.registry.Parameter` s: type, default, bounds, help, and how
each scales when segmenting at reduced resolution); ``--refine`` choices and the render and
evaluate options of the parameters (``--fz-scale`` ...) come from that registry, and
:class:`~vidcolor.inference.options.RenderOptions` checks values against it. Adding one is a
module with its function plus one :func:`~vidcolor.inference.refine.registry.register` call in
:mod:`~vidcolor.inference.refine.registry`, whose
:func:`~vidcolor.inference.refine.registry.segment` runs any of them.

Everything here is numpy in, numpy out, no torch and no I/O, so it runs in worker processes.
"""
