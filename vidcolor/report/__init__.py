"""The evaluation report: a terminal table, ``report.json``, plots and a self-contained web page.

:func:`vidcolor.report.table.format_table` prints the numbers of a
:meth:`vidcolor.metrics.SequenceScorer.summary` (one row per metric, one column per candidate:
grey, the results, the truth); :func:`vidcolor.report.writer.write_report` writes, into one
folder,

- ``report.json``: the summary as given (plus whatever metadata the caller put in it),
- ``error_curves.png``: cumulative αβ-error curves per pixel and per frame (thesis Fig. 8.1),
- ``sheet.png`` (``sheet.jpg`` when very large): rows of frames, columns grey / results / truth
  (thesis Fig. 8.3), each row labelled with its frame number and why it is there, each picture
  with that candidate's PSNR at the frame,
- ``per_frame.png``: PSNR and warp error per frame (flicker shows as spikes),
- ``index.html``: the table and the pictures with captions; no external URLs, no libraries.

The modules, in the order they build on each other:

- :mod:`~vidcolor.report.table`: numbers as text (:func:`~vidcolor.report.table.format_value`
  everywhere: 4 significant digits, ``inf``, ``n/a``, so the page, the table and
  ``report.json`` can be compared), the metric rows and the terminal table;
- :mod:`~vidcolor.report.sheet_picks`: which frames the comparison sheet shows, a pure
  function of the per-frame figures (the middle of the worst, the median and the best shot and
  a credit screen, never a dark frame);
- :mod:`~vidcolor.report.sheet_collector`: :class:`~vidcolor.report.sheet_collector.SheetCollector`
  watches every frame of an evaluation (mean lightness, credit test, shot boundaries) and keeps
  one small picture per shot for the sheet;
- :mod:`~vidcolor.report.figures`: the plots and the sheet, drawn with matplotlib's object API
  (Agg canvas; no pyplot state);
- :mod:`~vidcolor.report.page`: ``index.html``;
- :mod:`~vidcolor.report.writer`: the report folder, made in memory, written and synced under
  temporary names, and renamed only when all of it is on disk
  (:func:`~vidcolor.report.writer.write_files_atomic`): a full disk leaves the earlier report
  whole, and ``index.html``, renamed last, never points at pictures that are not there;
- :mod:`~vidcolor.report.season`: the season report's table, notes and page
  (``vidcolor evaluate --season``).
"""
