"""Atomic file output: write to a temporary name beside the target, then rename.

A crash or Ctrl-C therefore never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vidcolor.errors import OutputError


def ensure_writable_dir(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` if needed and check that files can be created in it.

    Raises:
        OutputError: the directory cannot be created or written.
    """
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create directory ({exc.strerror or exc})") from exc
    if not path.is_dir():
        raise OutputError(f"{path}: exists and is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: directory is not writable")
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary name keeps ``target``'s extension (or ``suffix``) so that libraries which pick
    a format from the name (PyAV, OpenCV) still work. On any exception the temporary is removed
    and ``target`` is left as it was.

    Raises:
        OutputError: the target's directory is missing or not writable.
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"{target}: output directory {directory} does not exist")
    ext = suffix if suffix is not None else target.suffix
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{ext}",
                                        dir=directory)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {directory} ({exc.strerror or exc})") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the final file normal permissions
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (fsynced before the rename)."""
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    write_bytes_atomic(target, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())
