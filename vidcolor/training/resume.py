"""Continuing a run (``--resume``): the options it continues with, the checkpoint it continues
from, and the dataset it trains on.

A resumed run keeps the options that define its network (``arch``, ``variant``, ``width``) and
its other stored options; only ``epochs``, ``device``, ``workers`` and ``keep_checkpoints`` may
change. :func:`resume_config` is that merge for a caller that names only the options it sets
(the command line); :func:`~vidcolor.training.loop.train` applies it again to the checkpoint
it loads, under the run's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidcolor.checkpoint.layout import Checkpoint, find_latest
from vidcolor.checkpoint.read import load_checkpoint, read_descriptor
from vidcolor.errors import CheckpointError, DatasetError, OutputError
from vidcolor.training.config import TrainConfig

log = logging.getLogger(__name__)

#: Options that define the network; a resumed run must keep them.
_IDENTITY = ("arch", "variant", "width")
#: Options a resumed run may change.
_RESUMABLE = ("epochs", "device", "workers", "keep_checkpoints")
#: Facts a checkpoint's config records beside the options.
_RECORDED = ("dataset", "dataset_test_episodes", "world_size")


def stored_config(run_dir: str | Path) -> dict[str, Any]:
    """The configuration recorded in a run's latest checkpoint (for ``--resume``), checked.

    Raises:
        CheckpointError: no checkpoint, a corrupt one, or a configuration that cannot be
            resumed (naming the file and the option).
    """
    latest = find_latest(run_dir)
    if latest is None:
        raise CheckpointError(f"{run_dir}: nothing to resume (no epoch-NNNN.json checkpoint)")
    return _checked_config(*read_descriptor(latest))


def _checked_config(json_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """A descriptor's ``config``: valid options, recorded facts of the right types, and the
    network the descriptor describes."""
    stored = meta["config"]

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{json_path}: invalid checkpoint descriptor: config {problem}")

    try:
        TrainConfig.from_dict({k: v for k, v in stored.items() if k not in _RECORDED})
    except (TypeError, ValueError) as exc:
        raise bad(f"({exc})") from exc
    for key in _IDENTITY:
        if stored.get(key) != meta[key]:
            raise bad(f"says {key} {stored.get(key)!r}, the checkpoint {meta[key]!r}")
    episodes = stored.get("dataset_test_episodes")
    world = stored.get("world_size", 1)
    for key, ok in (("dataset", isinstance(stored.get("dataset"), (str, type(None)))),
                    ("dataset_test_episodes", episodes is None or (
                        isinstance(episodes, list) and all(isinstance(e, str) for e in episodes))),
                    ("world_size", isinstance(world, int) and not isinstance(world, bool)
                     and world >= 1)):
        if not ok:
            raise bad(f"{key} is {stored.get(key)!r}")
    return stored


def resume_config(run_dir: str | Path, given: Mapping[str, Any]) -> TrainConfig:
    """The configuration that continues the run in ``run_dir``, from the options a caller sets
    (what ``vidcolor train --resume`` trains with; pass it to
    :func:`~vidcolor.training.loop.train` with ``resume``).

    The run keeps its stored options; ``given`` may change ``epochs``, ``device``,
    ``workers`` and ``keep_checkpoints`` (the last three default as for a new run, ``epochs``
    to the run's own). A ``given`` ``arch``, ``variant`` or ``width`` other than the run's is
    kept, for :func:`~vidcolor.training.loop.train` to refuse with the checkpoint's name.

    Args:
        run_dir: the run folder.
        given: :class:`TrainConfig` fields the caller sets (the command line: those given).

    Raises:
        CheckpointError: nothing to resume, or a corrupt checkpoint descriptor.
        OptionError: a ``given`` option of the wrong type or out of range.
    """
    stored = stored_config(run_dir)
    continued = {key: stored[key] for key in (*_IDENTITY, "epochs") if key in stored}
    asked = TrainConfig(**{**continued, **given})
    network = {key: getattr(asked, key) for key in _IDENTITY}  # the run's, unless given
    return _merged(asked, {**stored, **network}, Path(run_dir))


def _merged(config: TrainConfig, stored: dict[str, Any], where: Path) -> TrainConfig:
    """The stored options with ``config``'s resumable ones.

    Raises:
        CheckpointError: the stored options cannot be combined (naming ``where``).
    """
    try:
        options = {k: v for k, v in stored.items() if k not in _RECORDED}
        return TrainConfig.from_dict(
            {**options, **{k: getattr(config, k) for k in _RESUMABLE}})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: unusable stored configuration ({exc})") from exc


def prepare_run(config: TrainConfig, run_dir: Path, resume: bool
                ) -> tuple[TrainConfig, Checkpoint | None]:
    """Check the run directory; on resume load its latest checkpoint and merge configs.

    Raises:
        OutputError: a new run into a folder that holds checkpoints.
        CheckpointError: nothing to resume, a corrupt checkpoint, or ``config`` names
            another network than the run's.
    """
    latest = find_latest(run_dir) if run_dir.is_dir() else None
    if not resume:
        if latest is not None:
            raise OutputError(f"{run_dir}: already holds checkpoints ({latest.name}); use "
                              f"--resume {run_dir} to continue it or -o to pick another run")
        return config, None
    if latest is None:
        raise CheckpointError(f"{run_dir}: nothing to resume (no epoch-NNNN.json checkpoint)")
    ckpt = load_checkpoint(latest)
    stored = _checked_config(latest, ckpt.meta)
    for key in _IDENTITY:
        if getattr(config, key) != stored.get(key):
            raise CheckpointError(
                f"{ckpt.info.path}: run was trained with --{key} {stored.get(key)}, not "
                f"{getattr(config, key)}; resume it with the same --{key} or start a new run")
    return _merged(config, stored, ckpt.info.path), ckpt


def resolve_dataset(given: str | Path | None, ckpt: Checkpoint | None,
                    switch: bool) -> Path:
    """The dataset to train on: ``given`` (default ``./dataset``), or on resume the run's own.

    Raises:
        DatasetError: on resume, ``given`` is another dataset than the run's and ``switch``
            is not set.
    """
    if ckpt is None:
        return Path(given) if given is not None else Path("dataset")
    stored = ckpt.info.config.get("dataset")
    if given is None:
        if not isinstance(stored, str):
            raise CheckpointError(f"{ckpt.info.path}: the run records no dataset; pass "
                                  "--dataset")
        return Path(stored)
    if isinstance(stored, str) and str(Path(given).resolve()) != stored:
        if not switch:
            raise DatasetError(
                f"{Path(given).resolve()}: the run {ckpt.info.path.parent} was trained on "
                f"{stored}; drop --dataset to keep its dataset, or add --switch-dataset to "
                "train on this one (its test episodes may have been the run's training "
                "episodes)")
        log.warning("%s: switching the run from dataset %s to %s", ckpt.info.path.parent,
                    stored, Path(given).resolve())
    return Path(given)

