"""Checking and opening a video input file.

Every reader of a video or image first refuses what cannot be read as a file
(:func:`check_input_file`); PyAV's errors on opening become one-line
:class:`~vidcolor.errors.InputError` s.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import av

from vidcolor.errors import InputError

_SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_input_file(path: str | os.PathLike[str], *, folder_ok: bool = False) -> bool:
    """Refuse what cannot be read as an input file, before anything opens it.

    Every reader of a video or image calls this first. A FIFO, a device (``/dev/zero``,
    ``/dev/stdin`` on a pipe or terminal) or a socket is refused: opening one can block
    forever or never end, and an input is read more than once (probed, then decoded). ``stat``
    itself never blocks.

    Args:
        path: the input.
        folder_ok: accept a directory (where a folder of images is an input).

    Returns:
        True for a directory (only with ``folder_ok``), False for a regular file.

    Raises:
        InputError: missing, unreachable (permissions, a symlink loop, a name too long), a
            directory where a file is needed, or not a regular file.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file{' or folder' if folder_ok else ''}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InputError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                         ) from None
    if stat.S_ISDIR(mode):
        if folder_ok:
            return True
        raise InputError(f"{path}: is a directory, not a file")
    if not stat.S_ISREG(mode):
        what = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise InputError(f"{path}: is {what}, not a regular file; save the input to a file "
                         "first")
    return False


def open_input(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """Open an input file with PyAV, after :func:`check_input_file`.

    Raises:
        InputError: the file cannot be read, is empty or cut off before any frame, or is not
            a format FFmpeg reads.
    """
    path = Path(path)
    check_input_file(path)
    try:
        return av.open(str(path))
    except av.error.EOFError as exc:
        raise InputError(f"{path}: ends before any frame (empty or cut off)") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable video ({error_reason(exc)})") from exc


def error_reason(exc: BaseException) -> str:
    """The first clause of an error's message (FFmpeg's, or the OS's ``strerror``), for a
    one-line error; the exception's type name where it says nothing."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(";")[0].strip() or type(exc).__name__


def first_video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    """The container's first video stream.

    Raises:
        InputError: the file has no video stream (the container is closed first).
    """
    if not container.streams.video:
        what = "an audio-only file" if container.streams.audio else "a file without video"
        container.close()
        raise InputError(f"{path}: {what}; no video stream to read")
    return container.streams.video[0]
