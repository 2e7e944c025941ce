"""Tests of vidcolor.training.resume.resume_config: the options a resumed run trains with."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from vidcolor.checkpoint.layout import CheckpointInfo
from vidcolor.checkpoint.write import save_checkpoint
from vidcolor.errors import CheckpointError, OptionError
from vidcolor.models import build_model
from vidcolor.quantize import ab_gamut
from vidcolor.training.config import TrainConfig
from vidcolor.training.resume import resume_config

STORED = TrainConfig(arch="plain", variant="dropout", width=0.0625, epochs=3, batch_size=4,
                     accumulate=1, crop=32, seed=7, device="cpu", workers=0, keep_checkpoints=5)


def _run(run: Path) -> Path:
    """A run folder whose one checkpoint records :data:`STORED` (untrained weights)."""
    bins = ab_gamut(20)
    model = build_model(STORED.arch, STORED.variant, STORED.width, len(bins))
    run.mkdir()
    record = {**asdict(STORED), "dataset": None, "dataset_test_episodes": None, "world_size": 1}
    save_checkpoint(run, CheckpointInfo(
        arch=STORED.arch, variant=STORED.variant, width=STORED.width, bins=bins, prior=None,
        weights=None, epoch=1, config=record, version="", path=run, num_bins=len(bins)), model)
    return run


def test_the_run_keeps_its_options_and_its_number_of_epochs(tmp_path):
    config = resume_config(_run(tmp_path / "run"), {})
    assert config == TrainConfig(**{**asdict(STORED), "device": "auto", "workers": 2,
                                    "keep_checkpoints": 2})  # as a new run's


def test_only_the_resumable_options_change(tmp_path):
    run = _run(tmp_path / "run")
    config = resume_config(run, {"epochs": 5, "workers": 1, "batch_size": 16, "lr": 0.5,
                                 "variant": "dropout"})
    assert (config.epochs, config.workers) == (5, 1)
    assert (config.batch_size, config.lr, config.seed) == (4, STORED.lr, 7)  # the run's
    with pytest.raises(OptionError, match="--batch-size must be at least 1"):
        resume_config(run, {"batch_size": 0})  # checked, although not taken


def test_another_network_is_kept_for_train_to_refuse(tmp_path):
    run = _run(tmp_path / "run")
    assert resume_config(run, {"width": 0.125}).width == 0.125
    with pytest.raises(OptionError, match="--variant dropout is not available for --arch "
                                          "residual"):
        resume_config(run, {"arch": "residual"})


def test_nothing_to_resume(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        resume_config(tmp_path, {})
