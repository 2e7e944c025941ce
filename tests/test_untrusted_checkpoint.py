"""Checkpoints, logs and options are untrusted (issue 18): a well-formed file with wrong contents,
a value that cannot work or a full disk is one clear line, never a traceback, a black render or a
NaN checkpoint published as the run's latest."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import (
    TINY,
    file_size_limit,
    make_dataset,
    moving_square_frames,
    train_config,
    write_clip,
)

from vidcolor._cli.main import cli
from vidcolor.checkpoint.model import load_model
from vidcolor.checkpoint.read import load_checkpoint
from vidcolor.errors import CheckpointError, OptionError, OutputError, VidcolorError
from vidcolor.training.config import TrainConfig, check_memory
from vidcolor.training.loop import train
from vidcolor.training.run_log import read_log

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "dataset")


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory) -> Path:
    """A finished 1-epoch plain run (histogram head, rebalanced), to copy and forge."""
    return train(train_config(arch="plain", epochs=1), dataset,
                 tmp_path_factory.mktemp("trained") / "run", progress=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _forged(run: Path, target: Path, descriptor: Callable[[dict], None] | None = None,
            tensors: Callable[[dict[str, torch.Tensor]], None] | None = None) -> Path:
    """A copy of ``run`` whose epoch-1 checkpoint is changed but well-formed: the tensors are
    saved again and the descriptor vouches for them (size and SHA-256), as a forger would."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(run, target)
    descriptor_path, tensor_path = target / "epoch-0001.json", target / "epoch-0001.safetensors"
    meta = json.loads(descriptor_path.read_text())
    if tensors is not None:
        content = load_file(str(tensor_path))
        tensors(content)
        save_file(content, str(tensor_path), metadata={"format": "vidcolor-checkpoint"})
        meta["tensors_bytes"] = tensor_path.stat().st_size
        meta["tensors_sha256"] = hashlib.sha256(tensor_path.read_bytes()).hexdigest()
    if descriptor is not None:
        descriptor(meta)
    descriptor_path.write_text(json.dumps(meta))
    return target


def _one_line(args: list[str], exit_code: int = 1) -> str:
    result = CliRunner().invoke(cli, ["-q", *args])
    lines = result.output.strip().splitlines()
    assert result.exit_code == exit_code, result.output
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error:"), result.output
    return lines[0]


def _set(key: str, change: Callable[[torch.Tensor], torch.Tensor]
         ) -> Callable[[dict[str, torch.Tensor]], None]:
    def forge(tensors: dict[str, torch.Tensor]) -> None:
        tensors[key] = change(tensors[key])
    return forge


FIRST = "model.features.0.0.weight"


@pytest.mark.parametrize("forge, message", [
    (_set("bins", lambda t: t.bfloat16()), "tensor bins is torch.bfloat16"),
    (_set("weights", lambda t: t.long()), "tensor weights is torch.int64"),
    (_set(FIRST, lambda t: t.int()), f"tensor {FIRST} is torch.int32, expected torch.float32"),
    (_set(FIRST, lambda t: t * math.nan), f"tensor {FIRST} holds values that are not finite"),
    (_set("bins", lambda t: t + math.inf), "tensor bins holds values that are not finite"),
    (_set("weights", lambda t: t * 0), "rebalancing weights must be positive"),
    (_set(FIRST, lambda t: t.reshape(-1)), "has shape (36,), expected (4, 1, 3, 3)"),
    (_set("optim.state.0.exp_avg", lambda t: t[:1]), "tensor optim.state.0.exp_avg has shape"),
    (_set("optim.state.2.exp_avg_sq", lambda t: t * math.inf), "optim.state.2.exp_avg_sq holds"),
    (_set("model.features.0.4.running_var", lambda t: -t - 1), "running_var holds values from"),
    (_set("rng.numpy", lambda t: t + 2**40), "tensor rng.numpy holds values from"),
    (lambda t: t.pop(FIRST), f"tensor {FIRST} is missing"),
    (lambda t: t.update(extra=torch.zeros(3)), "unexpected tensor 'extra'"),
    (lambda t: t.update({"optim.state.x.step": torch.zeros(())}), "unexpected tensor 'optim"),
])
def test_forged_tensors_are_refused_at_load(run, tmp_path, forge, message):
    forged = _forged(run, tmp_path / "run", tensors=forge)
    with pytest.raises(CheckpointError, match=r"epoch-0001\.safetensors: .*" + re.escape(message)):
        load_model(forged)


@pytest.mark.parametrize("field, value, message", [
    ("width", 1e6, "width is 1000000.0 (must be a positive number, at most 64)"),
    ("width", 8.0, "tensors_bytes is"),  # within bounds, but not the network of the file
    ("num_bins", 10**9, "num_bins is 1000000000"),
    ("tensors_bytes", 10**15, "tensors_bytes is 1000000000000000"),
])
def test_descriptor_sizes_are_checked_before_anything_is_allocated(run, tmp_path, monkeypatch,
                                                                    field, value, message):
    import vidcolor.models

    real = vidcolor.models.build_model

    def meta_only(*args, **kwargs):  # a real build would allocate what the descriptor says
        assert kwargs.get("device") == "meta", "built for real before the size was checked"
        return real(*args, **kwargs)

    monkeypatch.setattr(vidcolor.models, "build_model", meta_only)
    forged = _forged(run, tmp_path / "run", lambda meta: meta.update({field: value}))
    with pytest.raises(CheckpointError, match=r"epoch-0001\.json: .*" + re.escape(message)):
        load_checkpoint(forged)


def test_render_and_resume_refuse_nan_weights_in_one_line(run, dataset, tmp_path):
    forged = _forged(run, tmp_path / "nan", tensors=_set(FIRST, lambda t: t * math.nan))
    before = _files(forged)
    clip = write_clip(tmp_path / "bw.mp4", moving_square_frames(4), audio=False)
    line = _one_line(["render", str(clip), "-m", str(forged), "--device", "cpu", "-o",
                      str(tmp_path / "out.mp4")])
    assert f"tensor {FIRST} holds values that are not finite" in line
    assert not (tmp_path / "out.mp4").exists()
    line = _one_line(["train", "--resume", str(forged), "--epochs", "2", *TINY])
    assert "not finite" in line
    assert _files(forged) == before


def test_render_stops_at_a_network_whose_output_is_not_finite(tmp_path):
    """Finite weights can still overflow: the render stops instead of painting black frames."""
    import numpy as np

    from vidcolor.inference.colorizer import Colorizer, wrap_model
    from vidcolor.models import build_model
    from vidcolor.quantize import ab_gamut

    bins = ab_gamut()
    model = build_model("plain", "rebalance", 0.0625, len(bins)).eval()
    colorizer = Colorizer([wrap_model(model, bins, name="good")], size=32)
    grey = [np.full((24, 32), 50.0, np.float32)]
    assert np.isfinite(colorizer.predict(grey)[0].ab[0]).all()
    with torch.no_grad():  # features of 1 into weights of 3e38: finite, but the sums overflow
        last_conv = model.features[-1][4]
        last_conv.weight.zero_()
        last_conv.bias.fill_(1.0)
        model.pred.weight.fill_(3e38)
    with pytest.raises(CheckpointError, match="good: the network computed values that are not "
                                              "finite"):
        colorizer.predict(grey)


@pytest.mark.parametrize("forge, message", [
    (dict(tensors=lambda t: [t.pop(k) for k in list(t) if k.startswith("optim.")]),
     "the optimiser state of parameter 0 lacks step, exp_avg, exp_avg_sq"),
    (dict(tensors=lambda t: t.pop("optim.state.3.exp_avg_sq")),
     "the optimiser state of parameter 3 lacks exp_avg_sq"),
    (dict(descriptor=lambda m: m.update(optimizer=None)), "holds no optimiser state"),
    (dict(descriptor=lambda m: m["optimizer"]["param_groups"][0].update(lr="abc")),
     "optimizer.param_groups[0].lr is 'abc'"),
    (dict(descriptor=lambda m: m["optimizer"]["param_groups"][0].update(eps=0.5)),
     "optimizer.param_groups[0].eps is 0.5, but the run's options give 1e-08"),
    (dict(descriptor=lambda m: m["optimizer"].update(param_groups=[])),
     "optimizer.param_groups holds 0 groups"),
    (dict(descriptor=lambda m: m["optimizer"].update(scalars={"0": {"step": "x"}})),
     "optimizer.scalars.0.step is 'x'"),
    (dict(descriptor=lambda m: m["scheduler"].update(step_size="x")),
     "scheduler.step_size is 'x'"),
    (dict(descriptor=lambda m: m["scheduler"].update(last_epoch=7)), "scheduler.last_epoch is 7"),
    (dict(descriptor=lambda m: m["scheduler"].update(_last_lr=["a"])), "scheduler._last_lr"),
    (dict(descriptor=lambda m: m["rng"].update(python=[3, "x"])), "rng.python is [3, 'x']"),
    (dict(descriptor=lambda m: m["config"].update(lr="abc")),
     "config (--lr must be a finite number, got 'abc')"),
    (dict(descriptor=lambda m: m["config"].update(seed=2**70)), "config (--seed must be"),
    (dict(descriptor=lambda m: m["config"].update(width=0.125)),
     "config says width 0.125, the checkpoint 0.0625"),
    (dict(descriptor=lambda m: m["config"].update(dataset_test_episodes=5)),
     "config dataset_test_episodes is 5"),
    (dict(descriptor=lambda m: m["metrics"].update(test_loss="x")), "metrics.test_loss is 'x'"),
])
def test_resume_is_exact_or_refused(run, dataset, tmp_path, forge, message):
    forged = _forged(run, tmp_path / "run", **forge)
    before = _files(forged)
    with pytest.raises(CheckpointError, match=r"epoch-0001\.\w+: .*" + re.escape(message)):
        train(train_config(arch="plain", epochs=2), None, forged, resume=True, progress=False)
    line = _one_line(["train", "--resume", str(forged), "--epochs", "2", *TINY])
    assert message in line
    assert _files(forged) == before


@pytest.mark.parametrize("log, message", [
    ("[1, 2]\n", "line 1 is not a JSON object"),
    ("{not json\n", "line 1 is not a JSON object"),
    ('{"epoch": 1, "train_loss": "abc"}\n', "line 1: train_loss is 'abc'"),
    ('{"epoch": "1"}\n', "line 1: epoch is '1'"),
    ('{"epoch": 1}\n{"epoch": 2, "lr": NaN}\n', "line 2: lr is nan"),
])
def test_log_lines_are_checked(run, tmp_path, log, message):
    forged = _forged(run, tmp_path / "run")
    (forged / "log.jsonl").write_text(log)
    with pytest.raises(CheckpointError, match=r"log\.jsonl: " + re.escape(message)):
        read_log(forged)
    line = _one_line(["train", "--resume", str(forged), "--epochs", "2", *TINY])
    assert "log.jsonl: " + message in line
    assert (forged / "log.jsonl").read_text() == log


@pytest.mark.parametrize("args, option", [
    (["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"), (["--lr", "0"], "--lr"),
    (["--lr-gamma", "inf"], "--lr-gamma"), (["--width", "inf"], "--width"),
    (["--width", "1000"], "--width"), (["--seed", str(2**70)], "--seed"),
    (["--seed", str(2**63)], "--seed"), (["--workers", "100000"], "--workers"),
    (["--width", "60"], "--width 60: a plain network of"),  # no machine has 1.8 PB
    (["--batch-size", "10000000"], "--batch-size 10000000 with --crop 32"),
])
def test_options_that_cannot_work_are_usage_errors(dataset, tmp_path, args, option):
    out = tmp_path / "r"
    line = _one_line(["train", "--arch", "plain", "--dataset", str(dataset), "-o", str(out),
                      *TINY, *args], exit_code=2)
    assert option in line
    assert not out.exists()


def test_legitimate_sizes_pass_the_memory_check():
    for width in (0.0625, 0.5, 2.0):
        check_memory(TrainConfig(arch="plain", width=width, batch_size=4, crop=64),
                     torch.device("cpu"), 261)
    with pytest.raises(OptionError, match="--width 64"):
        check_memory(TrainConfig(arch="residual", width=64.0), torch.device("cpu"), 261)
    assert isinstance(OptionError("x"), ValueError)
    with pytest.raises(OptionError, match="--epochs must be an integer"):
        TrainConfig(epochs=2.5).validate()


def test_diverged_training_stops_without_publishing_nan(dataset, tmp_path, monkeypatch):
    import vidcolor.training.loop as train_mod

    run = train(train_config(arch="plain", epochs=1), dataset, tmp_path / "run", progress=False)
    before = _files(run)
    real = train_mod.train_one_epoch

    def diverging(training_run, epoch):
        metrics = real(training_run, epoch)
        with torch.no_grad():
            next(training_run.model.parameters()).fill_(math.nan)
        return metrics

    monkeypatch.setattr(train_mod, "train_one_epoch", diverging)
    with pytest.raises(VidcolorError, match="training diverged in epoch 2.*checkpoints stop at "
                                            "epoch 1.*smaller --lr"):
        train(train_config(arch="plain", epochs=2), None, run, resume=True, progress=False)
    assert _files(run) == before  # latest, best, log: still epoch 1's
    with pytest.raises(VidcolorError, match="no checkpoint was written"):
        train(train_config(arch="plain", epochs=1), dataset, tmp_path / "fresh", progress=False)
    assert not list((tmp_path / "fresh").glob("epoch-*"))


def test_full_disk_during_training_leaves_the_run_as_it_was(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = _files(copy)
    with file_size_limit(100_000):  # the JSON files fit, the tensors do not
        with pytest.raises(OutputError, match=r"epoch-0002\.safetensors: cannot write \(File "
                                              "too large\\); nothing was published"):
            train(train_config(arch="plain", epochs=2), None, copy, resume=True, progress=False)
        assert _files(copy) == before  # no partial file, latest.json and the log as they were
        line = _one_line(["train", "--resume", str(copy), "--epochs", "2", *TINY])
    assert "epoch-0002.safetensors: cannot write" in line
    assert _files(copy) == before


def test_descriptor_write_failure_removes_the_new_tensors(run, tmp_path, monkeypatch):
    import vidcolor.checkpoint.write as checkpoint_mod

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = _files(copy)
    real = checkpoint_mod.write_json_atomic

    def refuse_descriptor(target, obj):
        if Path(target).name == "epoch-0002.json":
            raise OutputError(f"{target}: cannot write (No space left on device)")
        real(target, obj)

    monkeypatch.setattr(checkpoint_mod, "write_json_atomic", refuse_descriptor)
    with pytest.raises(OutputError, match="epoch-0002.json"):
        train(train_config(arch="plain", epochs=2), None, copy, resume=True, progress=False)
    assert _files(copy) == before
    assert load_model(copy)[1].epoch == 1


def test_an_epoch_count_that_would_run_forever_is_a_usage_error() -> None:
    from vidcolor.errors import OptionError
    from vidcolor.training.config import MAX_EPOCHS, TrainConfig

    with pytest.raises(OptionError, match="--epochs must be from 1 to"):
        TrainConfig(epochs=2**70).validate()
    TrainConfig(epochs=MAX_EPOCHS).validate()  # the bound itself is allowed
