"""``vidcolor evaluate``: score what render writes, against the colour truth (SPEC §8 and more).

Two modes, one scorer (:class:`vidcolor.metrics.SequenceScorer`, driven by
:func:`~vidcolor.evaluation.scoring.score_frames`):

* :func:`vidcolor.evaluation.runs.evaluate_runs` — trained runs on a dataset split. The split's
  frames are turned grey (each truth frame's own L, a = b = 0, as uint8 RGB: what a grey episode
  would hold) and rendered through the very pipeline ``vidcolor render`` uses, with the same
  :class:`~vidcolor.inference.options.RenderOptions`; the figures are those of rendering those
  grey frames as a folder of images and comparing. Several runs without ``--ensemble`` are
  scored side by side; a sequence stage's views (e.g. the per-frame colours beside the
  temporal ones) are scored as results of their own.
* :func:`vidcolor.evaluation.results.evaluate_results` — rendered videos, images or folders
  against their colour original.

Both return the scorer's summary (plus a ``meta`` entry saying what was scored) and can write a
report folder (:func:`vidcolor.report.writer.write_report`).

:func:`vidcolor.evaluation.season.evaluate_season` reports on a whole season render
(``vidcolor render ... -o FOLDER``): every episode's frames, render time and frames/s from the
render's ``season.json``, and each episode that has a colour original (paired by name,
:func:`~vidcolor.evaluation.season.truth_for`) scored by ``evaluate_results``; one table,
totals and frame-weighted means (:mod:`vidcolor.report.season`).
"""
