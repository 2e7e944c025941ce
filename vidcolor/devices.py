"""Compute device names: the one parser of ``--device``, ``--devices`` and ``TrainConfig.device``.

A device is named ``auto`` (a GPU when there is one, else the CPU), ``cpu``, ``cuda`` or
``cuda:N``. :func:`parse_device` checks the spelling, without torch, so that a typo is a usage
error before anything is loaded; :func:`resolve_device` then turns a name into a device that
exists on this machine (importing torch only then).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vidcolor.errors import DeviceError, OptionError

if TYPE_CHECKING:
    import torch

_DEVICE = re.compile(r"(cpu|cuda(:\d+)?)", re.ASCII)


def parse_device(name: object, option: str = "--device", *, auto: bool = True) -> str:
    """``name`` if it names a device, else an :class:`OptionError` naming ``option``.

    Args:
        name: ``auto`` (when ``auto`` is allowed), ``cpu``, ``cuda`` or ``cuda:N``.
        option: how the message names what was given (``--device``, ``--devices: each
            device``).
        auto: whether ``auto`` is a valid name.

    Raises:
        OptionError: e.g. ``--device must be auto, cpu, cuda or cuda:N, got 'gpu'``.

    >>> parse_device("cuda:1")
    'cuda:1'
    >>> parse_device("auto", "--devices: each device", auto=False)
    Traceback (most recent call last):
    ...
    vidcolor.errors.OptionError: --devices: each device must be cpu, cuda or cuda:N, got 'auto'
    """
    if isinstance(name, str) and ((auto and name == "auto") or _DEVICE.fullmatch(name)):
        return name
    shown = name[:40] if isinstance(name, str) else name
    raise OptionError(f"{option} must be {'auto, ' if auto else ''}cpu, cuda or cuda:N, got "
                      f"{shown!r}")


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a device that exists.

    Raises:
        DeviceError: CUDA requested but not available.
    """
    import torch

    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu or cuda") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available on this "
                              "machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} requested but only "
                              f"{torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise DeviceError(f"unsupported device {name!r}; use auto, cpu or cuda")
    return dev

