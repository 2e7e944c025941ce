"""Tests of vidcolor.training, vidcolor.checkpoint and `vidcolor train` on a tiny dataset."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import TINY, make_dataset, train_config

from vidcolor._cli.main import cli
from vidcolor.checkpoint.layout import find_latest
from vidcolor.checkpoint.model import load_model
from vidcolor.checkpoint.read import load_checkpoint
from vidcolor.errors import CheckpointError, DatasetError, DeviceError, OptionError
from vidcolor.evaluation.runs import evaluate_runs
from vidcolor.inference.options import RenderOptions
from vidcolor.training.config import TrainConfig
from vidcolor.training.loop import train
from vidcolor.training.run_log import read_log
from vidcolor.training.step import Accel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "dataset")


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_checkpoint(run).tensors.items() if k.startswith(("model.",
                                                                                    "optim."))}


def test_resume_reproduces_an_uninterrupted_run(dataset, tmp_path):
    straight = train(train_config(arch="plain", variant="dropout", epochs=2), dataset,
                     tmp_path / "a", progress=False)
    train(train_config(arch="plain", variant="dropout", epochs=1), dataset, tmp_path / "b",
          progress=False)
    resumed = train(train_config(arch="plain", variant="dropout", epochs=2), dataset,
                    tmp_path / "b", resume=True, progress=False)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    # Within a tolerance, not exactly: the resumed epoch sees the same batches in the same
    # order (the checkpoint carries the RNG states), but two trainings are two computations
    # and oneDNN's backward passes promise no bit-identity; an ulp-level drift over one
    # epoch of a tiny net stays far below 1e-6, while a lost optimiser state or another data
    # order changes steps that move each weight by about the learning rate (1e-3)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    assert [e["epoch"] for e in read_log(resumed)] == [1, 2]
    assert read_log(resumed)[1]["train_loss"] == pytest.approx(read_log(straight)[1]["train_loss"])


def test_checkpoint_describes_itself_and_loads(dataset, tmp_path):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    assert sorted(p.name for p in run.iterdir()) == [
        "best.json", "epoch-0001.json", "epoch-0001.safetensors", "latest.json", "log.jsonl"]
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
    run = train(train_config(arch="plain", variant="l2", epochs=1), dataset, tmp_path / "l2",
                progress=False)
    model, info = load_model(run)
    assert model.head == "ab" and info.bins is None and info.prior is None
    result = evaluate_runs([run], RenderOptions(device="cpu", workers=0), dataset_dir=dataset)
    assert result["frames"] == 3 and result["candidates"] == ["grey", str(run), "truth"]
    grey = result["metrics"]["grey"]
    assert grey["psnr"] > 5 and grey["ab_rmse"] > 0
    assert np.isfinite(result["metrics"][str(run)]["psnr"])


def test_training_beats_grey(tmp_path):
    """A short CPU training colours held-out toy cartoons better than grey."""
    data = make_dataset(tmp_path / "data", train=32, test=4)
    run = train(train_config(variant="no-rebalance", width=0.125, epochs=20, batch_size=8,
                             accumulate=1, lr=3e-3), data, tmp_path / "fit", progress=False)
    result = evaluate_runs([run], RenderOptions(device="cpu", workers=0), dataset_dir=data)
    model, grey = result["metrics"][str(run)], result["metrics"]["grey"]
    assert model["ab_rmse"] < grey["ab_rmse"]
    assert model["psnr"] > grey["psnr"]


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


def test_max_test_images_limits_only_the_test_loss(dataset, tmp_path):
    full = read_log(train(train_config(), dataset, tmp_path / "full", progress=False))[0]
    result = CliRunner().invoke(cli, ["-q", "train", "--arch", "residual", "--dataset",
                                      str(dataset), "-o", str(tmp_path / "one"), "--epochs", "1",
                                      "--max-test-images", "1", *TINY])
    assert result.exit_code == 0, result.output
    one = read_log(tmp_path / "one")[0]
    # the same training batches in both runs; approx's 1e-6 leaves room for float noise of
    # two computations, far below the change of training on other data
    assert one["train_loss"] == pytest.approx(full["train_loss"])
    assert one["test_loss"] != pytest.approx(full["test_loss"])
    bad = CliRunner().invoke(cli, ["train", "--arch", "residual", "--max-test-images", "0"])
    assert bad.exit_code == 2 and "--max-test-images must be >= 1" in bad.output


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
        train(train_config(), tmp_path / "nope", tmp_path / "run2", progress=False)


def test_resume_other_arch_and_corrupt_checkpoints(dataset, tmp_path):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    line = _fails(["--arch", "plain", "--resume", str(run), "--dataset", str(dataset), *TINY])
    assert "--arch residual" in line
    with pytest.raises(CheckpointError, match="arch"):
        train(train_config(arch="plain", epochs=2), dataset, run, resume=True, progress=False)
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
    with pytest.raises(CheckpointError, match="weights.pt: no such file or folder"):
        load_model(tmp_path / "weights.pt")
    (tmp_path / "weights.pt").write_bytes(b"pickle")
    with pytest.raises(CheckpointError, match="weights.pt: not a vidcolor checkpoint"):
        load_model(tmp_path / "weights.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(dataset, tmp_path):
    args = ["--arch", "plain", "--dataset", str(dataset), "-o", str(tmp_path / "r"), *TINY,
            "--device", "cuda"]
    assert "CUDA is not available" in _fails(args)
    with pytest.raises(DeviceError):
        load_model(tmp_path, "cuda")


def test_out_of_memory_suggests_smaller_batches(dataset, tmp_path, monkeypatch):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    before = (run / "epoch-0001.safetensors").read_bytes()

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("vidcolor.training.step.compute_loss", no_memory)
    line = _fails(["--resume", str(run), "--dataset", str(dataset), "--epochs", "2", *TINY])
    assert "--batch-size 2 --accumulate 4" in line
    assert (run / "epoch-0001.safetensors").read_bytes() == before
    assert find_latest(run).name == "epoch-0001.json"


def _torchrun(run: Path, dataset: Path, *args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VIDCOLOR_DEBUG": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--standalone", "-m", "vidcolor", "-q", "train", "--arch", "plain",
         "--variant", "dropout", "--dataset", str(dataset), "-o", str(run), *TINY,
         "--batch-size", "1", *args],  # 4 micro-batches per process: no_sync on every other one
        env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_distributed_two_cpu_processes_resume_exactly(dataset, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _torchrun(straight, dataset, "--epochs", "2")
    meta = json.loads((straight / "epoch-0002.json").read_text())
    assert meta["config"]["world_size"] == 2
    assert [e["epoch"] for e in read_log(straight)] == [1, 2]
    states = load_checkpoint(straight).tensors
    # each rank draws its own dropout masks, and the checkpoint keeps both streams
    assert not torch.equal(states["rng.rank.0"], states["rng.rank.1"])

    _torchrun(resumed, dataset, "--epochs", "1")
    _torchrun(resumed, dataset, "--epochs", "2", "--resume", str(resumed))
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    load_model(resumed)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _redraws(file, monkeypatch, seconds: float, **kwargs) -> list[str]:
    """Lines a 60-step bar writes to ``file`` when each step takes ``seconds``."""
    from vidcolor import progress

    clock = _Clock()
    monkeypatch.setattr("tqdm.std.time", clock)
    monkeypatch.setattr(progress, "_enabled", True)
    with progress.bar(total=60, desc="epoch 1/1", unit="img", file=file, **kwargs) as bar:
        for _ in range(60):
            clock.now += seconds
            bar.update(1)
    return [line for line in file.getvalue().replace("\n", "\r").split("\r") if line.strip()]


def test_progress_bars_in_logs_redraw_every_ten_seconds(monkeypatch):
    import io

    # a log file (not a terminal): 60 steps of 1 s -> about one line per 10 s, with rate/ETA
    lines = _redraws(io.StringIO(), monkeypatch, 1.0)
    assert 5 <= len(lines) <= 9, lines
    assert any("img/s" in line and "<00:" in line for line in lines), lines
    assert lines[-1].startswith("epoch 1/1: 100%")  # the final figures stay in the log

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    # a terminal keeps tqdm's default 0.1 s redraws (every step here)
    assert len(_redraws(Terminal(), monkeypatch, 1.0)) >= 55


# --------------------------------------------------------------------------- device path
# The CUDA path (bf16 autocast, channels_last, pinned non-blocking copies) lives in
# vidcolor.training.step.Accel / micro_step, shared by train() and scripts/bench_train.py. The CPU
# twins below run its autocast/channels_last logic on the CPU; the gpu tests run it on CUDA.

def _bench_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_train.py"
    spec = importlib.util.spec_from_file_location("bench_train", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _cuda_like_cpu() -> Accel:
    return Accel(torch.device("cpu"), autocast=True, channels_last=True, pin_memory=False)


def test_autocast_path_keeps_the_loss_in_float32():
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut
    from vidcolor.training.step import compute_loss, micro_step

    assert Accel.for_device(torch.device("cpu")) == Accel(torch.device("cpu"))
    accel = _cuda_like_cpu()
    torch.manual_seed(0)
    model = accel.place_model(build_model("residual", "rebalance", 0.0625, 261))
    assert model.head == "histogram"
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)
                and m.weight.shape[-1] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    outputs = []
    model.register_forward_hook(lambda _m, _i, out: outputs.append(out))
    bins = torch.from_numpy(ab_gamut())
    frames = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    loss = micro_step(model, frames, bins, torch.ones(261), "histogram", accel, scale=0.5)
    assert outputs[-1].dtype == torch.bfloat16  # the network ran under autocast
    assert loss.dtype == torch.float32 and not loss.requires_grad and torch.isfinite(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the same batch without autocast gives nearly the same loss (bf16 network only)
    plain = compute_loss(model, frames, bins, torch.ones(261), "histogram", autocast=False,
                         channels_last=False)
    assert plain.dtype == torch.float32
    assert float(loss) == pytest.approx(float(plain.detach()), rel=0.05)


def test_training_loop_runs_the_cuda_path_on_cpu(dataset, tmp_path, monkeypatch):
    """train() with the CUDA settings (autocast + channels_last) forced on the CPU."""
    monkeypatch.setattr(Accel, "for_device", classmethod(lambda cls, device: _cuda_like_cpu()))
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    log = read_log(run)
    assert np.isfinite(log[0]["train_loss"]) and np.isfinite(log[0]["test_loss"])
    model, _ = load_model(run, "cpu")  # stored weights load into a plain (contiguous) model
    with torch.no_grad():
        assert torch.isfinite(model(torch.rand(1, 1, 32, 32))).all()


def test_accumulation_scales_each_group_by_its_size(dataset, tmp_path, monkeypatch):
    import vidcolor.training.loop as train_mod

    scales, steps = [], []
    real_step = train_mod.micro_step

    def spy(*args, scale: float = 1.0, **kwargs):
        scales.append(scale)
        return real_step(*args, scale=scale, **kwargs)

    monkeypatch.setattr(train_mod, "micro_step", spy)
    real_adam = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step",
                        lambda self, *a, **k: (steps.append(len(scales)), real_adam(self, *a,
                                                                                   **k))[1])
    # 8 frames, micro-batches of 3 -> 3 micro-batches; accumulate 2 -> groups of 2 and 1
    train(train_config(batch_size=3, accumulate=2), dataset, tmp_path / "run", progress=False)
    assert scales == [0.5, 0.5, 1.0]
    assert steps == [2, 3]


def test_bench_script_cpu(capsys):
    bench = _bench_module()
    results = bench.main(["--device", "cpu", "--threads", "1", "--arch", "residual",
                          "--batch", "2", "--crop", "32", "--steps", "1", "--warmup", "0",
                          "--demo-width", "0.0625", "--demo-crop", "32", "--demo-batch", "2",
                          "--demo-accumulate", "2", "--demo-steps", "2"])
    out = capsys.readouterr().out
    assert out.startswith("device: CPU ") and "autocast bf16 False" in out
    assert [(r.arch, r.width, r.crop, r.device) for r in results] == [
        ("residual", 1.0, 32, "cpu"), ("residual", 0.0625, 32, "cpu")]
    assert all(r.images_per_s > 0 for r in results)
    assert "img/s" in out and "goal" in out
    # the CUDA settings, on the CPU
    twin = bench.bench("plain", 0.0625, 32, 2, steps=2, warmup=0, accel=_cuda_like_cpu(),
                       accumulate=2)
    assert twin.images_per_s > 0 and twin.peak_gib is None


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@needs_cuda
def test_one_cuda_training_step(dataset, tmp_path):
    """GPU twin of test_training_loop_runs_the_cuda_path_on_cpu: one real step on CUDA."""
    accel = Accel.for_device(torch.device("cuda"))
    assert accel.autocast and accel.channels_last and accel.pin_memory
    run = train(train_config(epochs=1, batch_size=8, accumulate=1, max_images=8, device="cuda",
                             workers=1), dataset, tmp_path / "run", progress=False)
    assert torch.backends.cudnn.benchmark
    log = read_log(run)
    assert np.isfinite(log[0]["train_loss"]) and np.isfinite(log[0]["test_loss"])
    model, info = load_model(run, "cuda")
    assert next(model.parameters()).is_cuda
    result = evaluate_runs([run], RenderOptions(device="cuda", workers=0), dataset_dir=dataset)
    assert result["frames"] == 3 and np.isfinite(result["metrics"][str(run)]["psnr"])


@pytest.mark.gpu
@needs_cuda
def test_bench_script_cuda(capsys):
    """GPU twin of test_bench_script_cpu."""
    bench = _bench_module()
    results = bench.main(["--device", "cuda", "--arch", "residual", "--batch", "4", "--crop",
                          "64", "--steps", "2", "--warmup", "1", "--demo-steps", "2"])
    out = capsys.readouterr().out
    assert "autocast bf16 True, channels_last True" in out
    assert results[0].device == "cuda" and results[0].peak_gib > 0
    assert {r.device for r in results} == {"cuda", "cpu"}


def test_errors_inside_loader_workers_stay_one_line(tmp_path):
    """A frame that breaks in a DataLoader worker still gives one clean error line."""
    data = make_dataset(tmp_path / "data", train=4, test=1)
    (data / "frames" / "ep" / "000002.png").write_bytes(b"not a png")
    line = _fails(["--arch", "residual", "--dataset", str(data), "-o", str(tmp_path / "r"),
                   *TINY, "--workers", "1"])
    assert "000002.png: cannot read frame" in line and "Traceback" not in line
    # a crop larger than the frames is refused before the prior is counted
    with pytest.raises(DatasetError, match="smaller than --crop 64"):
        train(train_config(crop=64, workers=1), data, tmp_path / "r2", progress=False)


def test_cli_usage_errors_are_one_line(dataset, tmp_path):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    bad_seed = CliRunner().invoke(cli, ["-q", "train", "--arch", "plain", "--dataset",
                                        str(dataset), "-o", str(tmp_path / "r"), *TINY,
                                        "--seed", "-1"])
    assert bad_seed.exit_code == 2 and "--seed" in bad_seed.output, bad_seed.output
    with pytest.raises(OptionError, match="seed"):
        train_config(seed=-1)  # checked when made
    bad_decode = CliRunner().invoke(cli, ["-q", "evaluate", str(run), "--dataset", str(dataset),
                                          "--device", "cpu", "--decode", "bogus"])
    assert bad_decode.exit_code == 2, bad_decode.output
    assert "bogus" in bad_decode.output and "Traceback" not in bad_decode.output
    good = CliRunner().invoke(cli, ["-q", "evaluate", str(run), "--dataset", str(dataset),
                                    "--device", "cpu", "--decode", "annealed:0.5"])
    assert good.exit_code == 0 and "PSNR" in good.output, good.output


def test_config_is_checked_once_when_made_and_frozen():
    import dataclasses

    config = train_config(device="cuda:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 5  # type: ignore[misc]
    for overrides, message in (({"device": "gpu"}, "--device must be auto, cpu, cuda or cuda:N"),
                               ({"epochs": 2.5}, "--epochs must be an integer"),
                               ({"variant": "l2"}, "--variant l2 is not available for --arch "
                                                   "residual"),
                               ({"arch": "huge"}, "unknown architecture 'huge'"),
                               ({"width": 0.0}, "--width must be positive")):
        with pytest.raises(OptionError, match=message):
            train_config(**overrides)
    with pytest.raises(OptionError, match="unknown training option.*: colour"):
        TrainConfig.from_dict({"arch": "plain", "colour": "red"})
    assert TrainConfig.from_dict({"arch": "plain", "width": 0.5}).width == 0.5


def test_one_device_parser_for_every_option():
    """--device of render and evaluate, each of --devices, and the training config's device."""
    from vidcolor.devices import parse_device
    from vidcolor.inference.batch import parse_devices

    for name in ("auto", "cpu", "cuda", "cuda:3"):
        assert parse_device(name) == name
        assert RenderOptions(device=name).device == name == train_config(device=name).device
    for name in ("gpu", "cuda:x", "cpu\n", "CUDA", "cuda:", ""):
        for make in (parse_device, lambda n: RenderOptions(device=n),
                     lambda n: train_config(device=n)):
            with pytest.raises(OptionError, match="--device must be auto, cpu, cuda or cuda:N"):
                make(name)
    with pytest.raises(OptionError, match="--devices: each device must be cpu, cuda or cuda:N, "
                                          "got 'auto'"):
        parse_devices("cpu,auto")
    assert parse_devices("cpu, cpu") == ["cpu", "cpu"]


@pytest.mark.parametrize("field, value", [
    ("tensors", None), ("tensors", ""), ("tensors", "../other/epoch-0001.safetensors"),
    ("format_version", "1"), ("rng", None), ("rng", {})])
def test_damaged_descriptor_fields_raise_checkpoint_error(dataset, tmp_path, field, value):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    descriptor = run / "epoch-0001.json"
    meta = json.loads(descriptor.read_text())
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    descriptor.write_text(json.dumps(meta))
    if field != "rng":
        with pytest.raises(CheckpointError, match="epoch-0001"):
            load_model(run)
    with pytest.raises(CheckpointError, match="epoch-0001"):
        train(train_config(epochs=2), dataset, run, resume=True, progress=False)


def test_checkpoint_tensors_are_synced_before_the_descriptor(dataset, tmp_path, monkeypatch):
    """The descriptor must never reach the disk before the tensors it vouches for."""
    synced: list[str] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    kinds = [Path(name).name.split(".part")[-1] for name in synced]
    assert ".safetensors" in kinds and ".json" in kinds
    assert kinds.index(".safetensors") < kinds.index(".json")


# --------------------------------------------------------------------------- checkpoint fields


@pytest.fixture(scope="module")
def trained_run(dataset, tmp_path_factory) -> Path:
    """A finished 1-epoch run, to copy and damage."""
    return train(train_config(epochs=1), dataset, tmp_path_factory.mktemp("trained") / "run",
                 progress=False)


def _damaged_copy(run: Path, tmp_path: Path, **fields) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    descriptor = copy / "epoch-0001.json"
    meta = json.loads(descriptor.read_text())
    meta.update(fields)
    descriptor.write_text(json.dumps(meta))
    return copy


@pytest.mark.parametrize("field, value, message", [
    ("num_bins", -3, "num_bins is -3 (must be an integer >= 1, at most 48841)"),
    ("num_bins", "261", "num_bins is '261'"),
    ("num_bins", True, "num_bins is True"),
    ("num_bins", 300, "expected (300,) (num_bins 300, width 0.0625)"),
    ("arch", "vgg", "arch is 'vgg' (must be one of plain, residual)"),
    ("variant", "l2", "variant is 'l2' (must be one of rebalance, no-rebalance)"),
    ("width", 0, "width is 0 (must be a positive number, at most 64)"),
    ("width", float("nan"), "width is nan"),
    ("head", "logits", "head is 'logits'"),
    ("head", "ab", "head is 'ab' (the l2 variant predicts ab"),
    ("epoch", 0, "epoch is 0 (must be an integer >= 1)"),
    ("epoch", 2, "epoch is 2 (but the file is epoch-0001.json)"),
    ("config", [], "config is [] (must be a mapping)"),
    ("version", 3, "version is 3"),
    ("tensors_bytes", -1, "tensors_bytes is -1"),
    ("tensors_sha256", "abc", "tensors_sha256 is 'abc'"),
    ("optimizer", {"param_groups": 5}, "optimizer is"),
    ("scheduler", [], "scheduler is []"),
])
def test_every_descriptor_field_is_checked(trained_run, tmp_path, field, value, message):
    run = _damaged_copy(trained_run, tmp_path, **{field: value})
    with pytest.raises(CheckpointError, match="epoch-0001.*" + re.escape(message)):
        load_model(run)


def test_ab_head_checkpoint_may_say_it_has_no_bins(tmp_path):
    """The l2 variant has no bins: num_bins 0 is allowed there, a negative one is not."""
    run = tmp_path / "run"
    _save_epochs(run, [1.0], keep=None)
    descriptor = run / "epoch-0001.json"
    meta = json.loads(descriptor.read_text())
    descriptor.write_text(json.dumps({**meta, "num_bins": 0}))
    assert load_model(run)[0].head == "ab"
    descriptor.write_text(json.dumps({**meta, "num_bins": -1}))
    with pytest.raises(CheckpointError, match=re.escape("num_bins is -1 (must be an integer "
                                                        ">= 0, at most 48841)")):
        load_model(run)


def test_bad_num_bins_is_one_line_in_every_command(trained_run, dataset, tmp_path):
    """The issue's case: a negative num_bins gave a traceback in render, evaluate and resume."""
    from conftest import moving_square_frames, write_clip

    run = _damaged_copy(trained_run, tmp_path, num_bins=-3)
    clip = write_clip(tmp_path / "bw.mp4", moving_square_frames(4), audio=False)
    for args in (["render", str(clip), "-m", str(run), "--device", "cpu", "-o",
                  str(tmp_path / "out.mp4")],
                 ["evaluate", str(run), "--dataset", str(dataset), "--device", "cpu"],
                 ["train", "--resume", str(run), "--epochs", "2", *TINY]):
        result = CliRunner().invoke(cli, ["-q", *args])
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "num_bins is -3" in lines[0], (args, result.output)
    assert not (tmp_path / "out.mp4").exists()


# --------------------------------------------------------------------------- retention


def _save_epochs(run: Path, losses: list[float | None], keep: int | None) -> None:
    from vidcolor.checkpoint.layout import CheckpointInfo
    from vidcolor.checkpoint.write import save_checkpoint
    from vidcolor.models import build_model

    model = build_model("plain", "l2", 0.0625, 261)
    run.mkdir(exist_ok=True)
    for epoch, loss in enumerate(losses, start=1):
        info = CheckpointInfo(arch="plain", variant="l2", width=0.0625, bins=None, prior=None,
                              weights=None, epoch=epoch, config={}, version="test", path=run,
                              num_bins=261, head="ab", metrics={"test_loss": loss})
        save_checkpoint(run, info, model, keep=keep)


def _epochs(run: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in run.glob("epoch-*.safetensors"))


def test_keeps_the_latest_n_and_the_best(tmp_path):
    run = tmp_path / "run"
    _save_epochs(run, [3.0, 1.0, 2.0, 4.0, 5.0], keep=2)
    assert _epochs(run) == [2, 4, 5]
    assert sorted(p.name for p in run.glob("epoch-*.json")) == [
        "epoch-0002.json", "epoch-0004.json", "epoch-0005.json"]
    assert json.loads((run / "best.json").read_text())["epoch"] == 2
    assert load_model(run)[1].epoch == 5  # a run folder means its latest
    assert load_model(run / "latest.json")[1].epoch == 5
    assert load_model(run / "best.json")[1].epoch == 2
    everything = tmp_path / "all"
    _save_epochs(everything, [3.0, None, 2.0], keep=None)
    assert _epochs(everything) == [1, 2, 3]
    assert json.loads((everything / "best.json").read_text())["epoch"] == 3


def test_pruning_is_crash_safe(tmp_path):
    from vidcolor.checkpoint.write import prune_checkpoints

    run = tmp_path / "run"
    _save_epochs(run, [1.0, 2.0, 3.0, 4.0], keep=None)
    # a crash between removing a descriptor and its tensors left these tensors behind
    (run / "epoch-0003.json").unlink()
    # latest.json and best.json name what must survive, whatever the epoch
    (run / "latest.json").write_text(json.dumps({"checkpoint": "epoch-0002.json"}))
    prune_checkpoints(run, keep=1)
    assert _epochs(run) == [1, 2, 4]  # best (1), latest.json's (2), the newest (4)
    assert all((run / f"epoch-{e:04d}.json").is_file() for e in (1, 2, 4))
    with pytest.raises(ValueError):
        prune_checkpoints(run, keep=0)


def test_training_keeps_checkpoints_as_asked(dataset, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["-q", "train", "--arch", "residual", "--dataset",
                                      str(dataset), "-o", str(run), "--epochs", "3",
                                      "--keep-checkpoints", "1", *TINY])
    assert result.exit_code == 0, result.output
    best = json.loads((run / "best.json").read_text())["epoch"]
    assert _epochs(run) == sorted({best, 3})
    assert [e["epoch"] for e in read_log(run)] == [1, 2, 3]
    assert min(read_log(run), key=lambda e: e["test_loss"])["epoch"] == best


# --------------------------------------------------------------------------- resume


def test_resume_keeps_the_runs_dataset(dataset, tmp_path, monkeypatch):
    run = train(train_config(epochs=1), dataset, tmp_path / "run", progress=False)
    monkeypatch.chdir(tmp_path)  # no ./dataset here
    same = CliRunner().invoke(cli, ["-q", "train", "--resume", str(run), *TINY])
    assert same.exit_code == 0, same.output  # to the run's own 1 epoch, not --epochs' default
    assert find_latest(run).name == "epoch-0001.json"
    kept = CliRunner().invoke(cli, ["-q", "train", "--resume", str(run), "--epochs", "2", *TINY])
    assert kept.exit_code == 0, kept.output
    other = make_dataset(tmp_path / "other", train=6, test=2)
    line = _fails(["--resume", str(run), "--epochs", "3", "--dataset", str(other), *TINY])
    assert "trained on" in line and "--switch-dataset" in line
    assert find_latest(run).name == "epoch-0002.json"
    switched = CliRunner().invoke(cli, ["-q", "train", "--resume", str(run), "--epochs", "3",
                                        "--dataset", str(other), "--switch-dataset", *TINY])
    assert switched.exit_code == 0, switched.output
    assert load_checkpoint(run).info.config["dataset"] == str(other.resolve())


def test_resume_refuses_a_dataset_whose_test_episodes_changed(tmp_path):
    data = make_dataset(tmp_path / "data", train=6, test=2)
    run = train(train_config(epochs=1), data, tmp_path / "run", progress=False)
    assert load_checkpoint(run).info.config["dataset_test_episodes"] == ["eptest"]
    meta = json.loads((data / "meta.json").read_text())
    meta["test_episodes"] = ["ep"]
    (data / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="test episodes are now.*--switch-dataset"):
        train(train_config(epochs=2), None, run, resume=True, progress=False)
    train(train_config(epochs=2), None, run, resume=True, switch_dataset=True, progress=False)


def test_second_trainer_into_one_run_is_refused(dataset, tmp_path):
    from vidcolor.errors import OutputError
    from vidcolor.fsutil import exclusive

    run = tmp_path / "run"
    with exclusive(run, "training it"):
        with pytest.raises(OutputError, match="is training it"):
            train(train_config(epochs=1), dataset, run, progress=False)
        line = _fails(["--arch", "residual", "--dataset", str(dataset), "-o", str(run), *TINY])
        assert "is training it" in line
    assert not run.exists()  # the refused trainers left nothing behind
    train(train_config(epochs=1), dataset, run, progress=False)


@pytest.mark.parametrize("stored_schedule", [True, False])
def test_step_schedule_resumes_exactly(dataset, tmp_path, stored_schedule):
    """StepLR's state travels in the checkpoint; older checkpoints without it resume too."""
    config = {"arch": "plain", "variant": "dropout", "lr_step": 1, "lr_gamma": 0.5}
    straight = train(train_config(epochs=3, **config), dataset, tmp_path / "a", progress=False)
    assert [e["lr"] for e in read_log(straight)] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    part = train(train_config(epochs=1, **config), dataset, tmp_path / "b", progress=False)
    if not stored_schedule:
        descriptor = part / "epoch-0001.json"
        meta = json.loads(descriptor.read_text())
        meta.pop("scheduler")
        descriptor.write_text(json.dumps(meta))
    resumed = train(train_config(epochs=3, **config), dataset, part, resume=True, progress=False)
    assert [e["lr"] for e in read_log(resumed)] == [e["lr"] for e in read_log(straight)]
    a, b = _weights(straight), _weights(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def test_checkpoint_files_get_the_usual_permissions(tmp_path):
    """safetensors creates its file 0600; a checkpoint is shared like any other output."""
    run = tmp_path / "run"
    umask = os.umask(0o022)
    try:
        _save_epochs(run, [1.0], keep=None)
    finally:
        os.umask(umask)
    assert (run / "epoch-0001.safetensors").stat().st_mode & 0o777 == 0o644
    assert (run / "epoch-0001.json").stat().st_mode & 0o777 == 0o644
