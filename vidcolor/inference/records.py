"""The record beside a rendered output (``<output>.vidcolor.json``): where it lies, the
fingerprint that recognises the output later, and reading it back.

Both :mod:`vidcolor.inference.render` (which writes a record when an output is complete) and
:mod:`vidcolor.inference.batch` (which skips outputs whose record says they are done) use it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Any

from vidcolor.fsutil import read_json_object

log = logging.getLogger(__name__)


def record_path(output: Path) -> Path:
    """The record beside an output saying what made it (``<output>.vidcolor.json``)."""
    return output.with_name(output.name + ".vidcolor.json")


#: Bytes read at each end of an output file for its fingerprint (:func:`output_fingerprint`).
FINGERPRINT_BYTES = 1 << 16


def output_fingerprint(output: Path) -> dict[str, Any] | None:
    """What a record keeps to recognise its output later without reading all of it.

    A file: its size and the SHA-256 of its first and last :data:`FINGERPRINT_BYTES`. A folder
    of images: the count, total size and SHA-256 of the names and sizes of its visible files.
    A file cut short, replaced or emptied since, or a folder that lost or gained an image, no
    longer matches.

    Returns:
        The fingerprint, or None when there is no output to read.
    """
    digest = hashlib.sha256()
    try:
        if output.is_dir():
            with os.scandir(output) as entries:
                files = sorted((os.fsencode(entry.name), entry.stat().st_size) for entry in entries
                               if entry.is_file() and not entry.name.startswith("."))
            for name, size in files:
                digest.update(name + b"\0" + str(size).encode() + b"\n")
            return {"files": len(files), "bytes": sum(size for _, size in files),
                    "sha256": digest.hexdigest()}
        with open(output, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest.update(handle.read(FINGERPRINT_BYTES))
            if size > FINGERPRINT_BYTES:
                handle.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
                digest.update(handle.read(FINGERPRINT_BYTES))
        return {"bytes": size, "sha256": digest.hexdigest()}
    except OSError:
        return None


def finished_record(output: Path, key: str) -> dict[str, Any] | None:
    """The record of ``output`` if the render ``key`` names made it and the output is still
    the one it describes (:func:`output_fingerprint`); else None: render it (again).

    The record is read back from disk, so it is checked: a damaged, edited or older record
    (wrong types, NaN, no fingerprint) or an output changed since (cut short, replaced) means
    rendering again, which replaces both; an info line says why.

    Returns:
        The record, ``frames`` an int and ``seconds`` a float, or None.
    """
    record = read_json_object(record_path(output))
    if record.get("key") != key:
        return None
    frames, seconds = record.get("frames"), record.get("seconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        seconds = float(seconds)
    if not (isinstance(frames, int) and not isinstance(frames, bool) and 0 <= frames < 2**53
            and isinstance(seconds, float) and math.isfinite(seconds) and seconds >= 0):
        log.info("%s: its record %s is damaged; rendering it again", output,
                 record_path(output).name)
        return None
    fingerprint = output_fingerprint(output)
    if fingerprint is None or record.get("output") != fingerprint:
        log.info("%s: not the output its record describes (changed, cut short or missing "
                 "since it was rendered); rendering it again", output)
        return None
    return {**record, "frames": frames, "seconds": seconds}
