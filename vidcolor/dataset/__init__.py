"""The training dataset: frames of whole episodes, deduplicated, credit-filtered, split by episode.

Layout of a dataset folder (default ``./dataset``)::

    meta.json       parameters, version, test set, finished episodes (source, size, mtime,
                    stored/decoded/credit counts, split), greyscale episodes that were skipped,
                    the grey model of the series' black and white (``grey``,
                    :meth:`vidcolor.color.grey.GreyModel.to_dict`; absent in older datasets:
                    luminance)
    manifest.csv    one row per stored frame: path,episode,source,frame_index,pts,time,mse,split
    excluded.csv    dropped credit frames, for review: episode,source,frame_index,pts,time,
                    reason,background_rgb,text_rgb (the credit screen's two colours, "R G B"),
                    grey_background_y,grey_text_y (its grey signature: the luminance of its
                    background and text, :func:`vidcolor.extract.credit_signature`)
    frames/<episode>/<frame_index>.png   256×256 RGB, lossless

One writer at a time: building holds an exclusive lock beside the folder
(:func:`vidcolor.fsutil.exclusive`), so a second build into the same folder waits or stops with
one line. Building is incremental and resumable at episode granularity: an episode's frames are
written to a hidden staging folder that is renamed into place when the episode is complete, and
only then are the excluded list, the manifest and the metadata rewritten (each atomically, the
metadata last). ``meta.json`` is therefore the record of what is complete: every build first
checks it against the manifest and the frames on disk
(:func:`~vidcolor.dataset.reader.dataset_problems`) and extracts again the episodes that
disagree, and :func:`~vidcolor.dataset.reader.load_split` refuses a dataset that disagrees.

Everything read back is untrusted (a hand-edited or damaged dataset, a hostile one): each file
is read only if it is a regular file (a pipe would block forever), ``meta.json`` is checked field
by field, and a manifest row must name exactly ``frames/<episode>/<frame_index>.png`` of its own
episode, a regular file that is not a link; frames are read and folders deleted inside the
dataset only, and only folders that hold nothing but frames
(:func:`~vidcolor.dataset.episode._remove_frames_folder`). Episode names are made from file
names (:func:`~vidcolor.dataset.records.episode_name`): safe folder names of at most
:data:`~vidcolor.dataset.records.MAX_NAME` characters. An episode file whose path is not UTF-8
text is refused: its path is recorded in ``meta.json`` and ``manifest.csv`` and must be found
again from them. A failed write (a full disk) leaves the dataset as it was
(:func:`~vidcolor.dataset.build._commit`).

The modules, in the order they depend on each other:

- :mod:`~vidcolor.dataset.records`: names, the fields of the three records and how each is
  read back and checked;
- :mod:`~vidcolor.dataset.reader`: reading a finished dataset, checked against itself
  (``load_split``, ``read_meta``, ``verify_dataset``);
- :mod:`~vidcolor.dataset.episode`: one episode's frames decoded, filtered and written to a
  staging folder, renamed into place when complete;
- :mod:`~vidcolor.dataset.look`: the series' look learnt from a dataset (``series.json``);
- :mod:`~vidcolor.dataset.repair`: the episodes that disagree with ``meta.json`` planned for
  extraction again, stray folders of a crashed build removed;
- :mod:`~vidcolor.dataset.build`: ``build_dataset``, the locked, incremental build that
  repairs what disagrees.
"""
