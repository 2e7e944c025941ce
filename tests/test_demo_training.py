"""End to end on the demo series: a minutes-long CPU training colours a held-out episode.

Claim under test: on the built-in demo series, a short CPU training of a small-width model
colours the held-out test episode better than grey (higher PSNR and lower αβ RMSE than the
all-grey baseline). About 20-40 s on 2 cores, hence ``slow``: ``python -m pytest -m slow
tests/test_demo_training.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidcolor.dataset.build import build_dataset
from vidcolor.dataset.reader import load_split
from vidcolor.demo.generate import generate_series
from vidcolor.evaluation.runs import evaluate_runs
from vidcolor.inference.options import RenderOptions
from vidcolor.training.config import TrainConfig
from vidcolor.training.loop import train
from vidcolor.training.run_log import read_log

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))
    yield
    torch.set_num_threads(threads)


def test_short_cpu_training_beats_grey_on_held_out_episode(tmp_path: Path):
    series = generate_series(tmp_path / "demo", episodes=3, seconds=10, width=256, height=192)
    build_dataset(series.colour_paths, tmp_path / "dataset")  # default: first episode is test
    test_frames = load_split(tmp_path / "dataset", "test")
    assert test_frames and all("episode01" in str(p) for p in test_frames)

    config = TrainConfig(arch="residual", width=0.125, crop=64, epochs=8, lr_step=6,
                         batch_size=16, accumulate=3, workers=0, device="cpu",
                         max_test_images=8)
    run = train(config, tmp_path / "dataset", tmp_path / "runs" / "residual", progress=False)
    log = read_log(run)
    assert [entry["epoch"] for entry in log] == list(range(1, 9))
    assert log[-1]["train_loss"] < log[0]["train_loss"]

    # The thesis's decoding (expectation, no debiasing), not render's defaults: those are tuned
    # on the README's 20-epoch model, and on a model this weak (its distributions close to the
    # rebalanced prior) annealed decoding with --debias 0.6 paints the prior's commonest colour:
    # measured 16.7 dB against grey's 17.4 (expectation 19.7, debias 0 20.0).
    options = RenderOptions(device="cpu", workers=0, decode="expectation", debias=0.0)
    result = evaluate_runs([run], options, dataset_dir=tmp_path / "dataset")
    assert result["frames"] == len(test_frames)
    model, grey = result["metrics"][str(run)], result["metrics"]["grey"]
    # measured (seed 0): about 19.7 dB vs 17.4 dB grey, αβ RMSE about 0.40 vs 0.48
    assert model["psnr"] > grey["psnr"] + 1.0, result["metrics"]
    assert model["ab_rmse"] < 0.9 * grey["ab_rmse"], result["metrics"]
