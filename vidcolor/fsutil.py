"""Atomic file output: write to a temporary name beside the target, then rename.

A crash or Ctrl-C therefore never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from vidcolor.errors import DatasetError, OutputError

log = logging.getLogger(__name__)


def ensure_writable_dir(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` if needed and check that files can be created in it.

    Raises:
        OutputError: the directory cannot be created or written.
    """
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path}: exists and is not a directory") from None
        raise OutputError(f"{path}: cannot create directory ({exc.strerror or exc})") from exc
    if not path.is_dir():
        raise OutputError(f"{path}: exists and is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: directory is not writable")
    return path


#: errno values that mean the storage, not the program, failed a write: full disk, quota, file
#: size limit (``ulimit -f``), read-only file system, I/O error.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def storage_error(target: str | os.PathLike[str], exc: OSError) -> OutputError:
    """The one-line error for a write of ``target`` that the storage refused."""
    return OutputError(f"{target}: cannot write ({exc.strerror or exc}); nothing was published "
                       "under this name")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None,
                allow_empty: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary name keeps ``target``'s extension (or ``suffix``) so that libraries which pick
    a format from the name (PyAV, OpenCV) still work. Before the rename the temporary file is
    synced to disk (a full disk or a quota can fail only then) and must not be empty: some
    writers (OpenCV) report success when the storage refused their bytes. On any exception the
    temporary is removed and ``target`` is left as it was; a storage failure (full disk,
    ``ulimit -f``, ...) becomes an :class:`OutputError` naming ``target``.

    Raises:
        OutputError: the target's directory is missing or not writable, the storage refused the
            write, or the writer produced an empty file.
    """
    target = Path(target)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"{target}: output directory {directory} does not exist")
    ext = suffix if suffix is not None else target.suffix
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem[:64]}.", suffix=f".part{ext}",
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
        if tmp.is_file():
            _sync(tmp, target, allow_empty)
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        if exc.errno in STORAGE_ERRNOS or exc.filename in (str(tmp), str(target)):
            raise storage_error(target, exc) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise


def _sync(tmp: Path, target: Path, allow_empty: bool) -> None:
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
        if not allow_empty and os.fstat(handle.fileno()).st_size == 0:
            raise OutputError(f"{target}: the writer produced an empty file (a full disk?); "
                              "nothing was published under this name")


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (synced before the rename)."""
    with atomic_path(target, allow_empty=not data) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def json_bytes(obj: Any, *, allow_nan: bool = True) -> bytes:
    """``obj`` as the indented, key-sorted JSON of our records and reports.

    Raises:
        ValueError: NaN or infinity in it, unless ``allow_nan``.
    """
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=allow_nan) + "\n").encode()


def write_json_atomic(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    write_bytes_atomic(target, json_bytes(obj))


#: A record of ours is a few KiB; one larger than this was not written by vidcolor.
RECORD_LIMIT = 16 << 20


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes | None:
    """The bytes of a file read back, None when it is missing.

    Only a regular file is read, opened without blocking: a pipe put where a record belongs
    would block forever and a device never end.

    Raises:
        ValueError: not a regular file, or more than ``limit`` bytes (the message says which).
        OSError: it cannot be opened or read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("not a regular file")
    with open(fd, "rb") as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ValueError(f"more than {limit} bytes")
    return data


def read_text(path: str | os.PathLike[str]) -> str | None:
    """The UTF-8 text of a file read back (a record, a manifest); None when it is missing.

    Raises:
        DatasetError: the file is not a regular file, cannot be read or is not UTF-8 text.
    """
    try:
        data = read_regular(path)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
                           ) from None


def read_json(path: str | os.PathLike[str]) -> object | None:
    """A JSON file read back (any value: the caller checks it); None when it is missing.

    Raises:
        DatasetError: as :func:`read_text`, or the text is not JSON.
    """
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({str(exc)[:80]})") from None


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object file (a record, a staging index), or ``{}`` when it is missing, unreadable
    or not an object: whoever reads it then starts over instead of trusting it."""
    try:
        raw = read_regular(path, RECORD_LIMIT)
        data = None if raw is None else json.loads(raw)
    except (OSError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return {}
    return data if isinstance(data, dict) else {}


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``target`` (a file or a folder): ``.<name>.lock`` beside it."""
    target = Path(target)
    name = target.name or Path(os.path.abspath(target)).name
    if len(os.fsencode(f".{name}.lock")) > 255:  # a long name: shortened, kept apart by a hash
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
        name = f"{os.fsdecode(os.fsencode(name)[:200]).rstrip(chr(0xFFFD))}-{digest}"
    return target.parent / f".{name}.lock"


@contextlib.contextmanager
def exclusive(target: str | os.PathLike[str], what: str = "it",
              wait: float = 0.0) -> Iterator[Path]:
    """Hold an exclusive lock on ``target`` for the ``with`` block.

    The lock is an advisory ``flock`` on :func:`lock_path` (``.<name>.lock`` beside the target):
    the kernel releases it when the holder exits, however it exits (Ctrl-C, SIGKILL, a crash),
    so a stale lock file never blocks anyone. Two vidcolor processes writing the same dataset,
    run folder or output file therefore never interleave: the second one waits up to ``wait``
    seconds, then fails with one clear line. The holder removes the lock file when it is done
    (a waiter that locked the removed file notices and locks the new one).

    Args:
        target: the file or folder to guard (it need not exist yet; its parent must).
        what: what the holder is doing, for the error message (e.g. ``"building it"``).
        wait: seconds to wait for a holder to finish before giving up (0: fail at once).

    Yields:
        The lock file's path.

    Raises:
        OutputError: another process holds the lock, or the lock file cannot be created.
    """
    path = lock_path(target)
    deadline = time.monotonic() + wait
    while True:
        handle = _locked_handle(path, target, what, deadline)
        if handle is not None:
            break
    with handle:
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"vidcolor process {os.getpid()}")
            handle.flush()
        except OSError as exc:  # a full disk: the lock holds, only its note is missing
            log.debug("%s: cannot note the holder (%s)", path, exc.strerror or exc)
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _locked_handle(path: Path, target: str | os.PathLike[str], what: str, deadline: float
                   ) -> IO[str] | None:
    """Open and lock ``path``; None if it was removed meanwhile (the caller tries again)."""
    try:
        handle = open(path, "a+")  # noqa: SIM115 - returned open, closed by the caller
    except OSError as exc:
        raise OutputError(f"{target}: cannot create lock file {path.name} "
                          f"({exc.strerror or exc})") from exc
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"{target}: cannot lock ({exc.strerror or exc})") from exc
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise OutputError(f"{target}: {holder} is {what}; wait for it to finish "
                                      "or use another output") from None
                time.sleep(0.1)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(handle.fileno()).st_ino:  # the holder removed it: start again
            handle.close()
            return None
        return handle
    except BaseException:
        handle.close()
        raise
