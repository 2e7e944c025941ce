"""Exception types of vidcolor.

Library code raises these and never prints or exits; the CLI turns them into one line and an
exit code. Messages name the file and the problem, and say what to do where that is not obvious.
"""

from __future__ import annotations


class VidcolorError(Exception):
    """Base class of every error vidcolor raises on purpose."""


class InputError(VidcolorError):
    """An input file is missing, unreadable, not a video, damaged or unsuitable."""


class OutputError(VidcolorError):
    """An output location cannot be written, or writing would destroy something."""


class DatasetError(VidcolorError):
    """A dataset is missing, incomplete, or was built with other parameters."""


class CheckpointError(VidcolorError):
    """A checkpoint is missing, corrupt, or not what the caller asked for."""


class DeviceError(VidcolorError):
    """The requested compute device is unavailable or out of memory."""


class OptionError(VidcolorError, ValueError):
    """An option has a value that cannot work (the CLI reports it as a usage error, exit 2)."""


class TrainingError(VidcolorError):
    """Training cannot go on (its loss or weights stopped being finite: it diverged)."""
