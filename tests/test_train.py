"""Tests of vidcolor.train, vidcolor.checkpoint and `vidcolor train` on a tiny dataset."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from vidcolor._cli.main import cli
from vidcolor.checkpoint import find_latest, load_checkpoint, load_model
from vidcolor.errors import CheckpointError, DatasetError, DeviceError
from vidcolor.train import TrainConfig, evaluate, read_log, train

FIELDS = ["path", "episode", "source", "frame_index", "pts", "time", "mse", "split"]
TINY = ["--width", "0.0625", "--crop", "32", "--batch-size", "4", "--accumulate", "2",
        "--workers", "0", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _frame(rng: np.random.Generator, size: int) -> np.ndarray:
    """A flat-shaded 'cartoon' frame: coloured rectangles whose colour goes with brightness."""
    palette = np.array([[200, 40, 40], [40, 160, 60], [50, 70, 210], [230, 210, 60]], np.uint8)
    image = np.full((size, size, 3), 235, np.uint8)
    for _ in range(4):
        y, x = rng.integers(0, size - 8, 2)
        h, w = rng.integers(8, size // 2, 2)
        image[y:y + h, x:x + w] = palette[rng.integers(len(palette))]
    return image


def make_dataset(root: Path, train: int = 8, test: int = 3, size: int = 48) -> Path:
    """Write the dataset layout vidcolor.dataset.load_split reads (meta, manifest, PNGs)."""
    rng = np.random.default_rng(1)
    (root / "frames" / "ep").mkdir(parents=True)
    rows = []
    for i in range(train + test):
        rel = f"frames/ep/{i:06d}.png"
        cv2.imwrite(str(root / rel), _frame(rng, size)[:, :, ::-1])
        rows.append({"path": rel, "episode": "ep", "source": "ep.mkv", "frame_index": i,
                     "pts": i, "time": i / 24, "mse": 100.0,
                     "split": "train" if i < train else "test"})
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (root / "meta.json").write_text(json.dumps({"params": {}, "version": "test"}))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "dataset")


def _config(**overrides) -> TrainConfig:
    base = dict(arch="residual", width=0.0625, epochs=1, batch_size=4, accumulate=2, crop=32,
                workers=0, device="cpu")
    base.update(overrides)
    return TrainConfig(**base)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_checkpoint(run).tensors.items() if k.startswith(("model.",
                                                                                    "optim."))}


def test_resume_reproduces_an_uninterrupted_run(dataset, tmp_path):
    straight = train(_config(arch="plain", variant="dropout", epochs=2), dataset,
                     tmp_path / "a", progress=False)
    train(_config(arch="plain", variant="dropout", epochs=1), dataset, tmp_path / "b",
          progress=False)
    resumed = train(_config(arch="plain", variant="dropout", epochs=2), dataset, tmp_path / "b",
                    resume=True, progress=False)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    assert [e["epoch"] for e in read_log(resumed)] == [1, 2]
    assert read_log(resumed)[1]["train_loss"] == pytest.approx(read_log(straight)[1]["train_loss"])


def test_checkpoint_describes_itself_and_loads(dataset, tmp_path):
    run = train(_config(epochs=1), dataset, tmp_path / "run", progress=False)
    assert sorted(p.name for p in run.iterdir()) == [
        "epoch-0001.json", "epoch-0001.safetensors", "latest.json", "log.jsonl"]
    meta = json.loads((run / "epoch-0001.json").read_text())
    assert meta["arch"] == "residual" and meta["variant"] == "rebalance"
    assert meta["config"]["crop"] == 32 and meta["version"]
    model, info = load_model(run, "cpu")
    assert not model.training and model.head == "histogram"
    assert (info.arch, info.variant, info.width, info.epoch) == ("residual", "rebalance",
                                                                 0.0625, 1)
    assert info.bins.shape == (261, 2) and info.path.suffix == ".safetensors"
    assert info.prior.sum() == pytest.approx(1.0)
    assert (info.prior * info.weights).sum() == pytest.approx(1.0)
    # same model through the file paths
    _, again = load_model(run / "epoch-0001.json")
    assert again.path == info.path
    log = read_log(run)
    assert log[0]["epoch"] == 1 and np.isfinite(log[0]["train_loss"])
    assert np.isfinite(log[0]["test_loss"])
    with torch.no_grad():
        out = model(torch.rand(1, 1, 48, 48))
    assert out.shape == (1, 261, 12, 12)


def test_l2_variant_trains_and_evaluates(dataset, tmp_path):
    run = train(_config(arch="plain", variant="l2", epochs=1), dataset, tmp_path / "l2",
                progress=False)
    model, info = load_model(run)
    assert model.head == "ab" and info.bins is None and info.prior is None
    result = evaluate((model, info), dataset, "test", device="cpu")
    assert result["images"] == 3
    assert set(result) == {"images", "model_psnr", "grey_psnr", "model_ab_rmse",
                           "grey_ab_rmse"}
    assert result["grey_psnr"] > 5 and result["grey_ab_rmse"] > 0


def test_training_beats_grey(tmp_path):
    """A short CPU training colours held-out toy cartoons better than grey."""
    data = make_dataset(tmp_path / "data", train=32, test=4)
    run = train(_config(variant="no-rebalance", width=0.125, epochs=20, batch_size=8,
                        accumulate=1, lr=3e-3), data, tmp_path / "fit", progress=False)
    result = evaluate(run, data, "test", device="cpu")
    assert result["model_ab_rmse"] < result["grey_ab_rmse"]
    assert result["model_psnr"] > result["grey_psnr"]


def test_cli_default_run_dir_and_log(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["-q", "train", "--arch", "residual", "--variant",
                                      "no-rebalance", "--dataset", str(dataset), "--epochs",
                                      "1", *TINY])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "residual-no-rebalance"
    assert (run / "epoch-0001.safetensors").is_file() and len(read_log(run)) == 1
    # a second start into the same run is refused; --resume extends it
    again = CliRunner().invoke(cli, ["-q", "train", "--arch", "residual", "--variant",
                                     "no-rebalance", "--dataset", str(dataset), *TINY])
    assert again.exit_code == 1 and "--resume" in again.output
    more = CliRunner().invoke(cli, ["-q", "train", "--resume", str(run), "--dataset",
                                    str(dataset), "--epochs", "2", *TINY])
    assert more.exit_code == 0, more.output
    assert find_latest(run).name == "epoch-0002.json"


def _fails(args: list[str]) -> str:
    result = CliRunner().invoke(cli, ["-q", "train", *args])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), result.output
    return lines[0]


def test_missing_and_incomplete_dataset(tmp_path):
    out = ["-o", str(tmp_path / "run")]
    assert "no dataset folder" in _fails(["--arch", "plain", "--dataset",
                                          str(tmp_path / "nope"), *out, *TINY])
    broken = make_dataset(tmp_path / "broken", train=2, test=1)
    (broken / "frames" / "ep" / "000001.png").unlink()
    assert "missing" in _fails(["--arch", "plain", "--dataset", str(broken), *out, *TINY])
    only_test = make_dataset(tmp_path / "onlytest", train=0, test=2)
    assert "no train frames" in _fails(["--arch", "plain", "--dataset", str(only_test), *out,
                                        *TINY])
    with pytest.raises(DatasetError):
        train(_config(), tmp_path / "nope", tmp_path / "run2", progress=False)


def test_resume_other_arch_and_corrupt_checkpoints(dataset, tmp_path):
    run = train(_config(epochs=1), dataset, tmp_path / "run", progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    line = _fails(["--arch", "plain", "--resume", str(run), "--dataset", str(dataset), *TINY])
    assert "--arch residual" in line
    with pytest.raises(CheckpointError, match="arch"):
        train(_config(arch="plain", epochs=2), dataset, run, resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # truncated tensors
    tensors = run / "epoch-0001.safetensors"
    tensors.write_bytes(before["epoch-0001.safetensors"][:1000])
    assert "truncated" in _fails(["--resume", str(run), "--dataset", str(dataset), "--epochs",
                                  "2", *TINY])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(run)
    # same size, flipped bytes
    data = bytearray(before["epoch-0001.safetensors"])
    data[-100:] = bytes(100)
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(run)
    # not a checkpoint at all
    (run / "epoch-0001.json").write_text("{not json")
    assert "corrupt" in _fails(["--resume", str(run), "--dataset", str(dataset), *TINY])
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path)
    with pytest.raises(CheckpointError, match="not a vidcolor checkpoint"):
        load_model(tmp_path / "weights.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(dataset, tmp_path):
    args = ["--arch", "plain", "--dataset", str(dataset), "-o", str(tmp_path / "r"), *TINY,
            "--device", "cuda"]
    assert "CUDA is not available" in _fails(args)
    with pytest.raises(DeviceError):
        load_model(tmp_path, "cuda")


def test_out_of_memory_suggests_smaller_batches(dataset, tmp_path, monkeypatch):
    run = train(_config(epochs=1), dataset, tmp_path / "run", progress=False)
    before = (run / "epoch-0001.safetensors").read_bytes()

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("vidcolor.train.compute_loss", no_memory)
    line = _fails(["--resume", str(run), "--dataset", str(dataset), "--epochs", "2", *TINY])
    assert "--batch-size 2 --accumulate 4" in line
    assert (run / "epoch-0001.safetensors").read_bytes() == before
    assert find_latest(run).name == "epoch-0001.json"


def test_distributed_two_cpu_processes(dataset, tmp_path):
    run = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VIDCOLOR_DEBUG": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--standalone", "-m", "vidcolor", "-q", "train", "--arch", "residual",
         "--dataset", str(dataset), "-o", str(run), "--epochs", "1", *TINY],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((run / "epoch-0001.json").read_text())
    assert meta["config"]["world_size"] == 2
    assert len(read_log(run)) == 1
    load_model(run)
