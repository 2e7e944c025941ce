"""Robustness battery: hostile and real-world inputs through every command, each classified.

Each case runs ``vidcolor -q ...`` (this checkout's code) in a process of its own, with a
timeout, on inputs made in a temporary folder: tiny demo episodes, clips with odd sizes, 10-bit
pixels, variable frame rate, a subtitle track that outlasts the video, non-ASCII names, files
cut at several byte offsets, garbage, images cut short, a tiny dataset and a run trained on it
for one epoch, and copies of both damaged on purpose; plus the first second of the real clips
in ``../shared/media`` (packets copied) and the whole files where that is cheap. Every case
says what it expects (``ok``, ``error`` or ``any``: a damaged file may be refused or read up to
the damage) and its outcome is classified:

=================  ===========================================================================
ok                 exit 0 where success is acceptable, every output decodes completely, and
                   nothing on stderr (``-q``)
clean error        exit 1 with exactly one stderr line ``vidcolor: error: ...``, or exit 2 with
                   click's usage message, where an error is acceptable
traceback          a Python traceback, a signal or another exit code
timeout            the command did not finish within ``--timeout`` seconds
noisy              the right exit code, but other lines on stderr (C libraries, warnings)
wrong rejection    a valid input refused (a clean error where ``ok`` was expected)
wrong acceptance   exit 0 where only an error makes sense
corrupted output   an output that exists but does not decode completely, a half-written file
                   left under a temporary name, or a file that existed before (an input, a
                   prior output) changed
=================  ===========================================================================

::

    python scripts/robustness.py                 # the battery (about 2 min on 2 busy cores)
    python scripts/robustness.py -k render       # the cases whose name contains "render"
    python scripts/robustness.py --keep work/    # keep the generated inputs and outputs
    python scripts/robustness.py --fresh --full  # each case a fresh interpreter; slow cases too

By default each case's process is forked from a server process that imported vidcolor (and
torch) once, which saves the ~3 s import per case; it is still a process of its own, with its
own stdout/stderr file descriptors (what C libraries print is seen), exit code and timeout.
``--fresh`` starts ``python -m vidcolor`` instead (the same outcomes, three times slower).
Read-only folders are made with ``chmod``, and for root (whom modes do not stop) with
``chattr +i``; where neither works the case is reported as skipped.

Prints one line per case and the tally; exits 1 when any case is a traceback, timeout, noisy,
wrong rejection or acceptance, or corrupted output.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's vidcolor, not an installed one

import numpy as np  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
FAILURES = ("traceback", "timeout", "noisy", "wrong rejection", "wrong acceptance",
            "corrupted output")
#: Options that make a render cheap (the defaults are exercised by one case of their own).
FAST = ["--refine", "none", "--no-temporal", "--size", "32", "--workers", "0"]
TINY_TRAIN = ["--arch", "plain", "--width", "0.0625", "--crop", "32", "--batch-size", "4",
              "--accumulate", "1", "--epochs", "1", "--workers", "0", "--device", "cpu",
              "--max-images", "8", "--max-test-images", "2"]


@dataclass
class Case:
    """One command and what may come of it.

    Attributes:
        name: ``command: what`` (``-k`` filters on it).
        args: the arguments after ``vidcolor -q``.
        expect: ``ok``, ``error`` or ``any``.
        outputs: ``(path, kind)`` of what the command writes; kinds: video, image, folder,
            dataset, run, report. Checked when they exist; unchanged when the command fails.
        protected: files that must not change (besides the existing paths among ``args``).
        frames: the frame count a video output must have (None: any).
        prepare: called just before the command (e.g. to write a prior output).
        readonly: a folder made read-only while the command runs.
        fsize: a file-size limit (``ulimit -f``, bytes) for the command: every write past it
            fails (EFBIG), as on a full disk.
        disk: ``(folder, size)``: a tmpfs of ``size`` (e.g. ``"96k"``) mounted on ``folder``
            (empty) before the command: a real full disk (ENOSPC). Root only: skipped otherwise.
    """

    name: str
    args: list[str]
    expect: str
    outputs: list[tuple[Path, str]] = field(default_factory=list)
    protected: list[Path] = field(default_factory=list)
    frames: int | None = None
    prepare: Callable[[], None] | None = None
    readonly: Path | None = None
    fsize: int | None = None
    disk: tuple[Path, str] | None = None


@dataclass
class Outcome:
    case: Case
    status: str
    detail: str
    seconds: float


# ---------------------------------------------------------------------------- inputs

def _write_video(path: Path, frames: list[np.ndarray], fps: Fraction | int = 12, *,
                 codec: str = "libx264", pix_fmt: str = "yuv420p",
                 pts: list[int] | None = None, time_base: Fraction | None = None) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = pts[index] if pts is not None else index
            if time_base is not None:
                frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _write_rip(path: Path, frames: list[np.ndarray]) -> Path:
    """An MKV like a disc rip: video at 12 fps, then audio and subtitles that outlast it."""
    from vidcolor.demo.generate import AUDIO_RATE, episode_audio
    from vidcolor.demo.rip import write_rip

    return write_rip(path, frames, episode_audio(seconds=6.0), AUDIO_RATE, fps=12,
                     subtitles_until=8)


def _write_audio_only(path: Path) -> Path:
    import av

    from vidcolor.demo.generate import AUDIO_RATE, episode_audio

    samples = np.ascontiguousarray(episode_audio(seconds=1.0), np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=AUDIO_RATE)
        stream.layout = "mono" if samples.shape[0] == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=stream.layout.name)
        frame.sample_rate = AUDIO_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def _remux_head(source: Path, target: Path, seconds: float) -> Path | None:
    """The first ``seconds`` of a real clip, its packets copied (codecs and container kept)."""
    import av

    try:
        with av.open(str(source)) as src, av.open(str(target), "w") as out:
            streams = [s for s in src.streams if s.type in ("video", "audio")]
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in src.demux(streams):
                if packet.dts is None:
                    continue
                if packet.pts is not None and packet.time_base is not None and \
                        float(packet.pts * packet.time_base) > seconds:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    except Exception as exc:  # noqa: BLE001 - a setup problem, reported and skipped
        print(f"setup: cannot cut {source.name} ({exc}); its cases are skipped")
        return None
    return target


def _train_run(dataset: Path, run: Path) -> Path:
    """A tiny run trained for one epoch (a real run: its config and dataset are recorded)."""
    from vidcolor.training.config import TrainConfig
    from vidcolor.training.loop import train

    config = TrainConfig(arch="plain", width=0.0625, epochs=1, batch_size=4, accumulate=1,
                         crop=32, device="cpu", workers=0, max_images=8, max_test_images=2)
    return train(config, dataset, run, progress=False)


def _damaged_run(run: Path, target: Path, descriptor: dict | None = None,
                 tensors: Callable[[bytes], bytes] | None = None,
                 raw_descriptor: bytes | None = None) -> Path:
    shutil.copytree(run, target)
    json_path = target / "epoch-0001.json"
    if descriptor is not None:
        meta = json.loads(json_path.read_text())
        meta.update(descriptor)
        json_path.write_text(json.dumps(meta))
    if raw_descriptor is not None:
        json_path.write_bytes(raw_descriptor)
    if tensors is not None:
        path = target / "epoch-0001.safetensors"
        path.write_bytes(tensors(path.read_bytes()))
    return target


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[bool]:
    """Make ``folder`` read-only for the block (root ignores modes: ``chattr +i`` then).

    Yields whether the folder really is read-only."""
    folder.chmod(0o555)
    immutable = False
    if os.access(folder, os.W_OK) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)],
                                   capture_output=True).returncode == 0
    try:
        yield not os.access(folder, os.W_OK)
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)


def make_inputs(work: Path) -> dict[str, Path]:
    """Every input file the cases use, in ``work``."""
    import cv2

    from vidcolor.dataset.build import build_dataset
    from vidcolor.dataset.records import DatasetParams
    from vidcolor.demo.episode import iter_episode_frames
    from vidcolor.demo.generate import generate_episode
    from vidcolor.demo.twins import bw_frame

    paths: dict[str, Path] = {}
    inputs = work / "inputs"
    inputs.mkdir()
    for episode in (1, 2):
        colour = inputs / f"ep{episode}.mkv"
        generate_episode(colour, inputs / f"ep{episode}_bw.mkv", seed=3, episode=episode,
                         seconds=2.0, width=64, height=48, fps=Fraction(12))
        paths[f"ep{episode}"] = colour
        paths[f"ep{episode}_bw"] = inputs / f"ep{episode}_bw.mkv"
    colour_frames = [f.rgb for f in iter_episode_frames(seed=3, episode=1, seconds=4.0,
                                                        width=64, height=48,
                                                        fps=Fraction(12))]
    grey = [bw_frame(rgb) for rgb in colour_frames[24:]]  # the second half, made grey
    paths["long_mkv"] = _write_video(inputs / "long.mkv", colour_frames)
    paths["long_mp4"] = _write_video(inputs / "long.mp4", colour_frames)
    paths["grey_only"] = _write_video(inputs / "grey_only.mkv", grey)
    paths["odd"] = _write_video(inputs / "odd.mkv", [f[:47, :63].copy() for f in colour_frames],
                                pix_fmt="yuv444p")
    paths["odd_grey"] = _write_video(inputs / "odd_grey.mkv", [f[:47, :63].copy() for f in grey],
                                     pix_fmt="yuv444p")
    for name, source in (("deep", colour_frames[:24]), ("deep_grey", grey)):
        try:
            paths[name] = _write_video(inputs / f"{name}.mkv", source, pix_fmt="yuv420p10le")
        except Exception:  # noqa: BLE001 - an 8-bit-only x264: lossless FFV1 is always there
            paths[name] = _write_video(inputs / f"{name}.mkv", source, codec="ffv1",
                                       pix_fmt="yuv420p10le")
    times = [0, 80, 160, 400, 480, 800, 880, 1000, 1300, 1400, 1450, 1900]
    paths["vfr"] = _write_video(inputs / "vfr.mkv", colour_frames[:12], pts=times,
                                time_base=Fraction(1, 1000))
    paths["vfr_grey"] = _write_video(inputs / "vfr_grey.mkv", grey[:12], pts=times,
                                     time_base=Fraction(1, 1000))
    paths["rip"] = _write_rip(inputs / "rip.mkv", colour_frames[:36])
    paths["rip_grey"] = _write_rip(inputs / "rip_grey.mkv", grey)
    odd_names = inputs / "dir with spaces"
    odd_names.mkdir()
    paths["unicode"] = odd_names / "épisode ü 1 — copie.mkv"
    shutil.copy(paths["ep1"], paths["unicode"])
    paths["unicode_grey"] = odd_names / "épisode ü 2 — n&b.mkv"
    shutil.copy(paths["ep2_bw"], paths["unicode_grey"])
    paths["one_frame"] = _write_video(inputs / "one_frame.mkv", grey[:1])
    paths["tiny"] = _write_video(inputs / "tiny.mkv", [cv2.resize(f, (8, 6)) for f in grey],
                                 pix_fmt="yuv444p")
    paths["audio_only"] = _write_audio_only(inputs / "audio_only.m4a")
    (inputs / "zero.mkv").write_bytes(b"")
    paths["zero"] = inputs / "zero.mkv"
    rng = np.random.default_rng(0)
    (inputs / "garbage.mkv").write_bytes(rng.integers(0, 256, 20000, np.uint8).tobytes())
    paths["garbage"] = inputs / "garbage.mkv"
    (inputs / "text.mp4").write_text("this is not a video\n" * 50)
    paths["text"] = inputs / "text.mp4"
    for source in ("long_mkv", "long_mp4"):
        data = paths[source].read_bytes()
        for label, cut in (("head", 200), ("25%", len(data) // 4), ("50%", len(data) // 2),
                           ("90%", len(data) * 9 // 10), ("end-40", len(data) - 40)):
            path = inputs / f"cut_{label}{paths[source].suffix}"
            path.write_bytes(data[:cut])
            paths[f"cut_{label}{paths[source].suffix}"] = path
    # images
    frames_dir = inputs / "frames"
    frames_dir.mkdir()
    for index in range(2):
        cv2.imwrite(str(frames_dir / f"{index:03d}.png"), grey[index])
    paths["frames"] = frames_dir
    for label, keep in (("mid", 0.5), ("iend", -4)):
        broken = inputs / f"frames_broken_{label}"
        shutil.copytree(frames_dir, broken)
        data = (broken / "001.png").read_bytes()
        cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
        (broken / "001.png").write_bytes(data[:cut])
        paths[f"frames_broken_{label}"] = broken
    zero_png = inputs / "frames_zero_byte"
    shutil.copytree(frames_dir, zero_png)
    (zero_png / "001.png").write_bytes(b"")
    paths["frames_zero_byte"] = zero_png
    cv2.imwrite(str(inputs / "pixel.png"), grey[0][:1, :1])
    paths["pixel_png"] = inputs / "pixel.png"
    cv2.imwrite(str(inputs / "frame.jpg"), grey[0])
    data = (inputs / "frame.jpg").read_bytes()
    (inputs / "cut.jpg").write_bytes(data[: len(data) // 2])
    (inputs / "cut_eoi.jpg").write_bytes(data[:-2])
    paths.update(jpg=inputs / "frame.jpg", jpg_cut=inputs / "cut.jpg",
                 jpg_cut_eoi=inputs / "cut_eoi.jpg")
    cv2.imwrite(str(inputs / "deep.png"), grey[0][..., 0].astype(np.uint16) * 257)
    paths["deep_png"] = inputs / "deep.png"
    alpha = np.dstack([grey[0], np.full(grey[0].shape[:2], 128, np.uint8)])
    cv2.imwrite(str(inputs / "alpha.png"), alpha)
    paths["alpha_png"] = inputs / "alpha.png"
    from PIL import Image

    Image.fromarray(grey[0]).convert("CMYK").save(inputs / "cmyk.jpg")
    paths["cmyk_jpg"] = inputs / "cmyk.jpg"
    shutil.copy(paths["jpg"], inputs / "jpeg_named.png")  # a JPEG under a .png name
    paths["misnamed"] = inputs / "jpeg_named.png"
    empty = inputs / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    paths["empty_dir"] = empty
    # a dataset and a model trained on it
    dataset = work / "dataset"
    build_dataset([paths["ep1"], paths["ep2"]], dataset, params=DatasetParams(size=32))
    paths["dataset"] = dataset
    paths["run"] = _train_run(dataset, work / "runs" / "tiny")
    damaged = work / "damaged"
    damaged.mkdir()
    run = paths["run"]
    paths["run_num_bins_text"] = _damaged_run(run, damaged / "num_bins_text", {"num_bins": "abc"})
    paths["run_num_bins_negative"] = _damaged_run(run, damaged / "num_bins_negative",
                                                  {"num_bins": -3})
    paths["run_width_list"] = _damaged_run(run, damaged / "width_list", {"width": [1]})
    paths["run_config_text"] = _damaged_run(run, damaged / "config_text", {"config": "x"})
    paths["run_truncated"] = _damaged_run(run, damaged / "truncated",
                                          tensors=lambda b: b[: len(b) // 2])
    paths["run_garbage_tensors"] = _damaged_run(run, damaged / "garbage_tensors",
                                                tensors=lambda b: bytes(len(b)))
    paths["run_descriptor_garbage"] = _damaged_run(run, damaged / "descriptor_garbage",
                                                   raw_descriptor=b"{not json")
    paths["run_descriptor_list"] = _damaged_run(run, damaged / "descriptor_list",
                                                raw_descriptor=b"[1, 2]")
    missing = _damaged_run(run, damaged / "tensors_missing")
    (missing / "epoch-0001.safetensors").unlink()
    paths["run_tensors_missing"] = missing
    pointer = _damaged_run(run, damaged / "bad_pointer")
    (pointer / "latest.json").write_text('{"checkpoint": "epoch-0009.json", "epoch": 9}')
    paths["run_bad_pointer"] = pointer
    (damaged / "empty_run").mkdir()
    paths["run_empty"] = damaged / "empty_run"
    bad = work / "bad_datasets"
    bad.mkdir()
    for name, damage in (
            ("manifest_garbage", lambda d: (d / "manifest.csv").write_bytes(
                rng.integers(0, 256, 500, np.uint8).tobytes())),
            ("manifest_cut", lambda d: (d / "manifest.csv").write_text(
                (d / "manifest.csv").read_text()[:-30])),
            ("manifest_empty", lambda d: (d / "manifest.csv").write_text("")),
            ("meta_missing", lambda d: (d / "meta.json").unlink()),
            ("meta_garbage", lambda d: (d / "meta.json").write_text("[[[")),
            ("frame_missing", lambda d: next((d / "frames").rglob("*.png")).unlink()),
            ("frame_broken", lambda d: _cut_file(sorted((d / "frames").rglob("*.png"))[-1]))):
        copy = bad / name
        shutil.copytree(dataset, copy)
        damage(copy)
        paths[f"dataset_{name}"] = copy
    # real clips: the first seconds, packets copied
    if (MEDIA / "big_buck_bunny_0_30.webm").is_file():
        paths["real_webm"] = _remux_head(MEDIA / "big_buck_bunny_0_30.webm",
                                         inputs / "bbb_head.webm", 1.0)
        paths["real_webm_full"] = MEDIA / "big_buck_bunny_0_30.webm"
    if (MEDIA / "steamboat_willie_28s.mp4").is_file():
        paths["real_mp4"] = _remux_head(MEDIA / "steamboat_willie_28s.mp4",
                                        inputs / "steamboat_head.mp4", 1.0)
        paths["real_mp4_full"] = MEDIA / "steamboat_willie_28s.mp4"
    if (MEDIA / "copying_is_not_theft.mp4").is_file():
        paths["real_truncated"] = MEDIA / "copying_is_not_theft.mp4"
    _hostile_inputs(paths, inputs, work, colour_frames, grey)
    return {key: value for key, value in paths.items() if value is not None}


def _forged_run(run: Path, target: Path,
                tensors: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                descriptor: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of ``run`` whose checkpoint is well-formed but wrong: its tensors edited (and the
    descriptor's size and SHA-256 updated to match, so only the contents are wrong) and/or its
    descriptor edited in place."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(run, target)
    json_path, tensor_path = target / "epoch-0001.json", target / "epoch-0001.safetensors"
    meta = json.loads(json_path.read_text())
    if tensors is not None:
        save_file(tensors(load_file(str(tensor_path))), str(tensor_path),
                  metadata={"format": "vidcolor-checkpoint"})
        meta["tensors_bytes"] = tensor_path.stat().st_size
        meta["tensors_sha256"] = hashlib.sha256(tensor_path.read_bytes()).hexdigest()
    if descriptor is not None:
        descriptor(meta)
    json_path.write_text(json.dumps(meta))
    return target


def _hostile_inputs(paths: dict[str, Path], inputs: Path, work: Path,
                    colour_frames: list[np.ndarray], grey: list[np.ndarray]) -> None:
    """Inputs of issue 18's probe: names that are not safe paths, special files, forged
    checkpoints, a resolution change mid-stream, float images, a truth at another rate."""
    import cv2
    import torch

    names = inputs / "names"
    names.mkdir()
    for key, name in (("dots3", "...mkv"), ("dots2", "..mkv"), ("hidden", ".hidden.mkv"),
                      ("long_name", "e" * 247 + ".mkv")):
        paths[key] = names / name
        shutil.copy(paths["ep1"], paths[key])
    raw = os.fsencode(names) + b"/ep\xff\xfe.mkv"  # not UTF-8: a Latin-1 name on Linux
    with open(raw, "wb") as handle:
        handle.write(paths["ep1"].read_bytes())
    paths["not_utf8"] = Path(os.fsdecode(raw))
    os.mkfifo(inputs / "fifo.mkv")
    os.mkfifo(inputs / "fifo.png")
    (inputs / "fifo_link.mkv").symlink_to(inputs / "fifo.mkv")
    paths.update(fifo=inputs / "fifo.mkv", fifo_png=inputs / "fifo.png",
                 fifo_link=inputs / "fifo_link.mkv", socket=inputs / "socket.mkv")
    import socket

    socket.socket(socket.AF_UNIX).bind(str(paths["socket"]))  # the file stays when it closes
    loop = inputs / "loop"
    loop.symlink_to(loop)
    paths["symlink_loop"] = loop
    # an MPEG-TS whose size changes mid-stream: two segments, concatenated byte for byte
    small = _write_video(inputs / "part1.ts", grey[:12])
    large = _write_video(inputs / "part2.ts", [cv2.resize(f, (80, 60)) for f in grey[12:24]])
    (inputs / "size_change.ts").write_bytes(small.read_bytes() + large.read_bytes())
    paths["size_change"] = inputs / "size_change.ts"
    cv2.imwrite(str(inputs / "float.tiff"), grey[0].astype(np.float32) / 255)
    cv2.imwrite(str(inputs / "deep.tiff"), grey[0].astype(np.uint16) * 257)
    paths.update(float_tiff=inputs / "float.tiff", deep_tiff=inputs / "deep.tiff")
    paths["truth_25fps"] = _write_video(inputs / "truth_25fps.mkv", colour_frames[:24], fps=25)

    def nan_weights(t: dict[str, Any]) -> dict[str, Any]:
        key = next(k for k in t if k.startswith("model.") and t[k].is_floating_point())
        t[key] = torch.full_like(t[key], float("nan"))
        return t

    def without_optimizer(t: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in t.items() if not k.startswith("optim.")}

    def wrong_optimizer(t: dict[str, Any]) -> dict[str, Any]:
        key = next(k for k in t if k.startswith("optim.state."))
        t[key] = torch.zeros(3, 5)
        return t

    def int_weights(t: dict[str, Any]) -> dict[str, Any]:
        key = next(k for k in t if k.startswith("model.") and t[k].is_floating_point())
        t[key] = t[key].to(torch.int64)
        return t

    forged = work / "forged"
    forged.mkdir()
    run = paths["run"]
    for key, tensors, descriptor in (
            ("nan_weights", nan_weights, None),
            ("nan_bins", lambda t: {**t, "bins": torch.full_like(t["bins"], float("nan"))}, None),
            ("bf16_bins", lambda t: {**t, "bins": t["bins"].to(torch.bfloat16)}, None),
            ("int_weights", int_weights, None),
            ("bins_shape", lambda t: {**t, "bins": t["bins"][:, :1].contiguous()}, None),
            ("optimizer_removed", without_optimizer, lambda m: m.update(optimizer=None)),
            ("optimizer_shapes", wrong_optimizer, None),
            ("width_huge", None, lambda m: m.update(width=1e6)),
            ("width_nan", None, lambda m: m.update(width=float("nan"))),
            ("num_bins_huge", None, lambda m: m.update(num_bins=2 ** 40)),
            ("scheduler_type", None, lambda m: m["scheduler"].update(step_size="seven")),
            ("scheduler_list", None, lambda m: m.update(scheduler=[1, 2])),
            ("epoch_text", None, lambda m: m.update(epoch="one")),
            ("config_lr_text", None, lambda m: m["config"].update(lr="fast")),
            ("bins_int", lambda t: {**t, "bins": t["bins"].int()}, None),
            ("weights_f16", lambda t: {**t, "weights": t["weights"].half()}, None),
            ("weights_zero", lambda t: {**t, "weights": t["weights"] * 0}, None),
            ("extra_tensor", lambda t: {**t, "evil": torch.zeros(3)}, None),
            ("weight_missing", lambda t: {k: v for k, v in t.items()
                                          if k != next(n for n in t if n.startswith("model."))},
             None),
            ("rng_float", lambda t: {**t, "rng.torch": t["rng.torch"].float()}, None),
            ("prior_short", lambda t: {**t, "prior": t["prior"][:5].contiguous()}, None),
            ("tensors_bytes_huge", None, lambda m: m.update(tensors_bytes=10 ** 15)),
            ("format_version_bool", None, lambda m: m.update(format_version=True)),
            ("metrics_text", None, lambda m: m["metrics"].update(test_loss="x")),
            ("optimizer_lr_nan", None,
             lambda m: m["optimizer"]["param_groups"][0].update(lr=float("nan"))),
            ("optimizer_class", None, lambda m: m["optimizer"].update({"class": "SGD"})),
            ("rng_missing", None, lambda m: m.pop("rng")),
            ("config_seed_huge", None, lambda m: m["config"].update(seed=2 ** 70)),
            ("config_width_text", None, lambda m: m["config"].update(width="wide"))):
        paths[f"forged_{key}"] = _forged_run(run, forged / key, tensors, descriptor)
    for key, lines in (("log_not_objects", "[1, 2]\n\"text\"\n"),
                       ("log_text_numbers", '{"epoch": "one", "train_loss": "low"}\n'),
                       ("log_garbage", "\x00\xff{{{\n")):
        target = forged / key
        shutil.copytree(run, target)
        (target / "log.jsonl").write_text(lines, errors="surrogateescape")
        paths[f"forged_{key}"] = target


def _cut_file(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ---------------------------------------------------------------------------- cases

def make_cases(p: dict[str, Path], work: Path, full: bool = False) -> list[Case]:
    """The battery. Each case writes into a folder of its own under ``work/out``; ``full``
    adds the slow ones (rendering the whole real truncated clip)."""
    out = work / "out"
    out.mkdir()
    cases: list[Case] = []

    def folder(name: str) -> Path:
        path = out / name.replace(" ", "_").replace(":", "").replace("/", "_")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(name: str, args: list[str], expect: str, outputs: list[tuple[Path, str]] = (),
            **kwargs: object) -> None:
        cases.append(Case(name, [str(a) for a in args], expect, list(outputs), **kwargs))

    run, dataset = p["run"], p["dataset"]

    # --- build-dataset
    def build(name: str, episodes: list[Path], expect: str, *extra: str) -> None:
        ds = folder(f"build {name}") / "ds"
        add(f"build-dataset: {name}", ["build-dataset", *episodes, "-o", ds, "--size", "32",
                                       *extra], expect, [(ds, "dataset")])

    build("two demo episodes", [p["ep1"], p["ep2"]], "ok")
    build("missing file", [work / "missing.mkv"], "error")
    build("zero-byte file", [p["zero"]], "error")
    build("garbage bytes", [p["garbage"]], "error")
    build("text named .mp4", [p["text"]], "error")
    build("audio-only file", [p["audio_only"]], "error")
    build("a folder as episode", [p["frames"]], "error")
    build("greyscale episode only", [p["grey_only"]], "error")
    build("rip whose subtitles outlast the video", [p["rip"], p["ep2"]], "ok")
    build("odd size 63x47", [p["odd"], p["ep2"]], "ok")
    build("10-bit", [p["deep"], p["ep2"]], "ok")
    build("variable frame rate", [p["vfr"], p["ep2"]], "ok")
    build("non-ASCII name with spaces", [p["unicode"], p["ep2"]], "ok")
    for key in sorted(k for k in p if k.startswith("cut_")):
        build(f"truncated {key[4:]}", [p[key], p["ep2"]], "any")
    build("truncated 50% mkv --skip-errors", [p["cut_50%.mkv"], p["ep2"]], "ok",
          "--skip-errors")
    build("bad --size", [p["ep1"]], "error", "--size", "3")
    build("bad --dedup-threshold", [p["ep1"]], "error", "--dedup-threshold", "-1")
    build("unknown --test-episodes", [p["ep1"], p["ep2"]], "error", "--test-episodes", "nope")
    add("build-dataset: output is an input file", ["build-dataset", p["ep1"], "-o", p["ep2"],
                                                   "--size", "32"], "error")
    ro = folder("build read-only")
    add("build-dataset: read-only output folder", ["build-dataset", p["ep1"], "-o", ro / "ds",
                                                   "--size", "32"], "error", readonly=ro)
    for name in ("manifest_garbage", "manifest_cut", "meta_garbage"):
        copy = folder(f"build rerun {name}") / "ds"
        add(f"build-dataset: re-run onto a dataset with {name.replace('_', ' ')}",
            ["build-dataset", p["ep1"], p["ep2"], "-o", copy, "--size", "32"], "any",
            [(copy, "dataset")], prepare=_copier(p[f"dataset_{name}"], copy))
    if "real_webm_full" in p:
        build("real webm (Big Buck Bunny, VP9+Vorbis)", [p["real_webm_full"]], "ok")
    if "real_mp4_full" in p:
        build("real greyscale mp4 (Steamboat Willie)", [p["real_mp4_full"]], "error")
    if "real_truncated" in p:
        build("real truncated mp4 (copying_is_not_theft)", [p["real_truncated"]], "error")
        build("real truncated mp4 --skip-errors", [p["real_truncated"]], "ok", "--skip-errors")

    # --- train
    def train(name: str, args: list[str], expect: str, data: Path | None = dataset) -> None:
        target = folder(f"train {name}") / "run"
        add(f"train: {name}", ["train", *TINY_TRAIN, *(["--dataset", data] if data else []),
                               "-o", target, *args], expect, [(target, "run")])

    train("tiny run", [], "ok")
    train("missing dataset", [], "error", data=work / "no_dataset")
    for name in ("manifest_garbage", "manifest_cut", "manifest_empty", "meta_missing",
                 "meta_garbage", "frame_missing", "frame_broken"):
        train(f"dataset with {name.replace('_', ' ')}", [], "error", data=p[f"dataset_{name}"])
    for flag, value in (("--crop", "30"), ("--epochs", "0"), ("--batch-size", "0"),
                        ("--width", "0"), ("--lr", "-1"), ("--keep-checkpoints", "0"),
                        ("--max-images", "0")):
        train(f"bad {flag} {value}", [flag, value], "error")
    for key in ("run_truncated", "run_num_bins_negative", "run_descriptor_garbage",
                "run_tensors_missing"):
        target = folder(f"train resume {key}") / "run"
        add(f"train: --resume a damaged checkpoint ({key[4:].replace('_', ' ')})",
            ["train", "--resume", target, "--epochs", "2", "--workers", "0", "--device",
             "cpu"], "error", [(target, "files")], prepare=_copier(p[key], target))
    add("train: output is an input file", ["train", *TINY_TRAIN, "--dataset", dataset, "-o",
                                           p["ep1"]], "error")
    into = folder("train into dataset")
    add("train: output folder is the dataset", ["train", *TINY_TRAIN, "--dataset",
                                                into / "ds", "-o", into / "ds"], "any",
        prepare=_copier(dataset, into / "ds"), protected=[into / "ds" / "manifest.csv",
                                                          into / "ds" / "meta.json"])
    ro = folder("train read-only")
    add("train: read-only output folder", ["train", *TINY_TRAIN, "--dataset", dataset, "-o",
                                           ro / "run"], "error", readonly=ro)

    # --- render
    def render(name: str, source: Path, expect: str, *extra: str, kind: str = "video",
               frames: int | None = None, output: Path | None = None, models: Path = run,
               **kwargs: object) -> None:
        suffix = {"video": ".mkv", "image": source.suffix, "folder": ""}[kind]
        target = output or folder(f"render {name}") / f"out{suffix}"
        add(f"render: {name}", ["render", source, "-m", models, "-o", target, *FAST, *extra],
            expect, [(target, kind)], frames=frames, **kwargs)

    render("demo episode", p["ep2_bw"], "ok", frames=24)
    target = folder("render defaults") / "out.mkv"
    add("render: demo episode, default options (regions, temporal)",
        ["render", p["ep2_bw"], "-m", run, "-o", target, "--size", "32", "--workers", "0"],
        "ok", [(target, "video")], frames=24)
    render("missing file", work / "missing.mkv", "error")
    render("zero-byte file", p["zero"], "error")
    render("garbage bytes", p["garbage"], "error")
    render("text named .mp4", p["text"], "error")
    render("audio-only file", p["audio_only"], "error")
    for key in sorted(k for k in p if k.startswith("cut_")):
        render(f"truncated {key[4:]}", p[key], "any")
    render("rip whose subtitles outlast the video", p["rip_grey"], "ok", frames=24)
    render("odd size 63x47", p["odd_grey"], "ok", frames=24)
    render("10-bit", p["deep_grey"], "ok", frames=24)
    render("variable frame rate", p["vfr_grey"], "ok", frames=12)
    render("non-ASCII name with spaces", p["unicode_grey"], "ok", frames=24,
           output=folder("render unicode") / "sortie é.mkv")
    render("colour input (only its L is used)", p["ep1"], "ok", frames=24)
    render("a single frame", p["one_frame"], "ok", frames=1)
    render("8x6 pixels", p["tiny"], "ok", frames=24)
    render("output named .webm (no H.264 there)", p["ep2_bw"], "error",
           output=folder("render webm") / "out.webm")
    render("output folder is a file", p["ep2_bw"], "error", output=p["jpg"] / "out.mkv")
    render("output folder missing", p["ep2_bw"], "error",
           output=folder("render nowhere") / "missing" / "out.mkv")
    render("folder of images", p["frames"], "ok", kind="folder")
    render("folder with a PNG cut mid-file", p["frames_broken_mid"], "error", kind="folder")
    render("folder with a PNG cut in IEND", p["frames_broken_iend"], "error", kind="folder")
    render("folder without images", p["empty_dir"], "error", kind="folder")
    render("folder with a zero-byte PNG", p["frames_zero_byte"], "error", kind="folder")
    render("1x1 PNG", p["pixel_png"], "ok", kind="image")
    render("JPEG", p["jpg"], "ok", kind="image")
    render("JPEG cut mid-file", p["jpg_cut"], "error", kind="image")
    render("JPEG without its end marker", p["jpg_cut_eoi"], "error", kind="image")
    render("16-bit PNG", p["deep_png"], "ok", kind="image")
    render("grey+alpha PNG", p["alpha_png"], "ok", kind="image")
    render("CMYK JPEG", p["cmyk_jpg"], "ok", kind="image")
    render("JPEG named .png", p["misnamed"], "ok", kind="image")
    for key in sorted(k for k in p if k.startswith("run_") and k != "run_bad_pointer"):
        render(f"damaged model ({key[4:].replace('_', ' ')})", p["ep2_bw"], "error",
               models=p[key])
    # latest.json naming a checkpoint that is gone: the newest one there is used
    render("model whose latest.json names a missing epoch", p["ep2_bw"], "ok",
           models=p["run_bad_pointer"])
    for flag, value in (("--size", "30"), ("--decode", "bogus"), ("--decode", "annealed:0"),
                        ("--device", "gpu"), ("--batch-size", "0"), ("--workers", "-1"),
                        ("--ensemble", "median"), ("--shard", "2/2")):
        render(f"bad {flag} {value}", p["ep2_bw"], "error", flag, value)
    render("bad --working-scale 2", p["ep2_bw"], "error", "--refine", "felzenszwalb",
           "--working-scale", "2")
    render("--device cuda without CUDA", p["ep2_bw"], "any", "--device", "cuda")
    same = folder("render output is input")
    add("render: output is the input", ["render", same / "bw.mkv", "-m", run, "-o",
                                        same / "bw.mkv", *FAST], "error",
        prepare=_copier(p["ep2_bw"], same / "bw.mkv"))
    add("render: output is the truth", ["render", p["ep2_bw"], "-m", run, "--truth", p["ep2"],
                                        "-o", p["ep2"], *FAST], "error")
    add("render: output is the model's tensors",
        ["render", p["ep2_bw"], "-m", run, "-o", run / "epoch-0001.safetensors", *FAST],
        "error")
    season = folder("render season")
    add("render: two inputs, one named as the other's default output",
        ["render", season / "a.mkv", season / "a.colorized.mkv", "-m", run, *FAST], "any",
        [(season / "a.colorized.colorized.mkv", "video")],
        prepare=lambda: (shutil.copy(p["ep2_bw"], season / "a.mkv"),
                         shutil.copy(p["ep1_bw"], season / "a.colorized.mkv")))
    prior = folder("render prior output")
    for name, source, models in (("a damaged model", p["ep2_bw"], p["run_truncated"]),
                                 ("a truncated input", p["cut_50%.mkv"], run)):
        target = prior / f"after {name}.mkv".replace(" ", "_")
        add(f"render: failing over a prior output ({name})",
            ["render", source, "-m", models, "-o", target, *FAST], "error",
            [(target, "video")], prepare=_copier(p["ep1_bw"], target))
    ro = folder("render read-only")
    add("render: read-only output folder", ["render", p["ep2_bw"], "-m", run, "-o",
                                            ro / "out.mkv", *FAST], "error", readonly=ro)
    if "real_webm" in p:
        render("real webm head (VP9+Vorbis, 1280x720)", p["real_webm"], "ok")
    if "real_mp4" in p:
        render("real mp4 head (Steamboat Willie, 854x480)", p["real_mp4"], "ok")
    if "real_truncated" in p and full:  # 785 frames at 640x360 before the damage
        render("real truncated mp4 (copying_is_not_theft)", p["real_truncated"], "error")

    # --- evaluate
    def evaluate(name: str, args: list[str], expect: str, report: bool = True) -> None:
        target = folder(f"evaluate {name}") / "report"
        add(f"evaluate: {name}", ["evaluate", *args, *(["-o", target] if report else [])],
            expect, [(target, "report")] if report else [])

    evaluate("grey result against its truth", [p["ep1_bw"], "--truth", p["ep1"]], "ok")
    evaluate("run on the dataset", [run, "--dataset", dataset, "--max-images", "2", *FAST],
             "ok")
    evaluate("missing result", [work / "missing.mkv", "--truth", p["ep1"]], "error")
    evaluate("garbage truth", [p["ep1_bw"], "--truth", p["garbage"]], "error")
    evaluate("truncated result", [p["cut_50%.mkv"], "--truth", p["long_mkv"]], "error")
    evaluate("different lengths", [p["ep1_bw"], "--truth", p["long_mkv"]], "error")
    evaluate("image against a video", [p["jpg"], "--truth", p["ep1"]], "error")
    evaluate("damaged run", [p["run_num_bins_negative"], "--dataset", dataset, *FAST], "error")
    evaluate("dataset with a garbage manifest", [run, "--dataset", p["dataset_manifest_garbage"],
                                                 *FAST], "error")
    evaluate("missing dataset", [run, "--dataset", work / "no_dataset", *FAST], "error")
    evaluate("bad --max-images", [run, "--dataset", dataset, "--max-images", "0"], "error")
    evaluate("bad --decode", [run, "--dataset", dataset, "--decode", "x"], "error")
    add("evaluate: report folder is the truth file",
        ["evaluate", p["ep1_bw"], "--truth", p["ep1"], "-o", p["ep1"]], "error")
    ro = folder("evaluate read-only")
    add("evaluate: read-only report folder",
        ["evaluate", p["ep1_bw"], "--truth", p["ep1"], "-o", ro / "report"], "error",
        readonly=ro)
    _hostile_cases(p, work, folder, add)
    return cases


def _hostile_cases(p: dict[str, Path], work: Path, folder: Callable[[str], Path],
                   add: Callable[..., None]) -> None:
    """Issue 18's probe, and more of each kind: names that are not safe paths, full disks and
    file-size limits in every command, forged checkpoints, values that cannot work, special
    files, odd but valid inputs."""
    run, dataset = p["run"], p["dataset"]
    train_args = ["train", *TINY_TRAIN, "--dataset", dataset]

    # --- names are data, never paths
    for key in ("dots3", "dots2", "hidden", "not_utf8", "long_name"):
        ds = folder(f"names add {key}") / "ds"
        add(f"build-dataset: episode named {p[key].name[:20]!r} added to a dataset",
            ["build-dataset", p["ep1"], p["ep2"], p[key], "-o", ds, "--size", "32"], "any",
            [(ds, "dataset")], prepare=_copier(dataset, ds))
    twice = folder("names hidden twice") / "ds"
    add("build-dataset: '.hidden.mkv' built twice",
        ["build-dataset", p["hidden"], p["ep2"], "-o", twice, "--size", "32"], "any",
        [(twice, "dataset")], prepare=lambda: _build(twice, [p["hidden"], p["ep2"]]))
    escape = folder("names meta escape")
    victim = escape / "victim"

    def forge_meta() -> None:
        shutil.copytree(dataset, escape / "ds")
        victim.mkdir()
        (victim / "keep.txt").write_text("must survive")
        meta_path = escape / "ds" / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["episodes"] = {("./../../victim" if i == 0 else k): v
                            for i, (k, v) in enumerate(meta["episodes"].items())}
        meta_path.write_text(json.dumps(meta))

    add("build-dataset: meta.json naming an episode './../../victim'",
        ["build-dataset", p["ep1"], p["ep2"], "-o", escape / "ds", "--size", "32"], "any",
        [(escape / "ds", "dataset")], prepare=forge_meta, protected=[victim / "keep.txt"])
    alone = folder("names render not utf8")
    add("render: input name not UTF-8, default output name",
        ["render", alone / p["not_utf8"].name, "-m", run, *FAST], "ok",
        prepare=_copier(p["not_utf8"], alone / p["not_utf8"].name))
    long_dir = folder("names render long")
    add("render: input name of 251 characters, default output name",
        ["render", long_dir / p["long_name"].name, "-m", run, *FAST], "any",
        prepare=_copier(p["long_name"], long_dir / p["long_name"].name))
    deep = folder("names path max") / "/".join(["d" * 200] * 24) / "out.mkv"
    add("render: output path over PATH_MAX", ["render", p["ep2_bw"], "-m", run, "-o", deep,
                                              *FAST], "error")
    add("build-dataset: output path over PATH_MAX", ["build-dataset", p["ep1"], "-o",
                                                     deep.parent, "--size", "32"], "error")
    for command, args in (("build-dataset", ["build-dataset", p["ep1"], "--size", "32"]),
                          ("train", train_args),
                          ("render a folder", ["render", p["frames"], "-m", run, *FAST]),
                          ("render a video", ["render", p["ep2_bw"], "-m", run, *FAST]),
                          ("evaluate", ["evaluate", p["ep1_bw"], "--truth", p["ep1"]]),
                          ("demo-data", ["demo-data", "--episodes", "1", "--seconds", "1",
                                         "--width", "64", "--height", "48"])):
        def output(path: Path, command: str = command) -> list[Path | str]:
            return [path] if command == "demo-data" else ["-o", path]

        blocker = folder(f"names {command} under a file") / "a_file"
        add(f"{command}: -o under an existing file", [*args, *output(blocker / "out")], "error",
            prepare=lambda b=blocker: b.write_text("precious"), protected=[blocker])
        if command in ("build-dataset", "render a folder", "evaluate", "demo-data"):
            plain = folder(f"names {command} onto a file") / "a_file"
            add(f"{command}: -o an existing file", [*args, *output(plain)], "error",
                prepare=lambda b=plain: b.write_text("precious"), protected=[plain])
    recorded = folder("names record is a folder")
    add("render: its record path is a folder",
        ["render", p["ep2_bw"], "-m", run, "-o", recorded / "out.mkv", *FAST], "any",
        prepare=lambda: (recorded / "out.mkv.vidcolor.json").mkdir())
    for command in ("train", "evaluate"):
        args = train_args[:-2] if command == "train" else ["evaluate", run, *FAST]
        target = folder(f"names {command} symlink loop") / "out"
        add(f"{command}: --dataset a symlink loop", [*args, "--dataset", p["symlink_loop"],
                                                      "-o", target], "error")
    season = folder("names season records")

    def forge_season() -> None:
        shutil.copy(p["ep1_bw"], season / "ep1_bw.colorized.mkv")
        (season / "season.json").write_text(json.dumps({"episodes": [
            {"input": "../../../etc/ep1_bw.mkv", "output": "../../ep1_bw.colorized.mkv",
             "status": "done", "frames": "many", "seconds": float("nan")}, "not an entry",
            {"input": 5, "output": None}], "done": "x"}))

    add("evaluate: a hand-edited season.json", ["evaluate", "--season", season, "--truth",
                                                p["ep1"].parent, "-o", season / "report"],
        "any", [(season / "report", "report")], prepare=forge_season)

    # --- full disks and file-size limits, in every command
    limited = {
        "build-dataset": lambda o: ["build-dataset", p["ep1"], p["ep2"], "-o", o / "ds",
                                    "--size", "32"],
        "train": lambda o: [*train_args, "-o", o / "run"],
        "render a video": lambda o: ["render", p["ep2_bw"], "-m", run, "-o", o / "out.mkv",
                                     *FAST],
        "render with --review": lambda o: [
            "render", p["ep2_bw"], "-m", run, "-o", o / "out.mkv", "--truth", p["ep2"],
            "--review", o / "review.mkv", *FAST],
        "render a folder": lambda o: ["render", p["frames"], "-m", run, "-o", o / "frames",
                                      *FAST],
        "render an image": lambda o: ["render", p["jpg"], "-m", run, "-o", o / "out.png",
                                      *FAST],
        "evaluate": lambda o: ["evaluate", p["ep1_bw"], "--truth", p["ep1"], "-o",
                               o / "report"],
        "demo-data": lambda o: ["demo-data", o / "demo", "--episodes", "1", "--seconds", "1",
                                "--width", "64", "--height", "48"],
    }
    kinds = {"build-dataset": ("ds", "dataset"), "train": ("run", "run"),
             "render a video": ("out.mkv", "video"),
             "render with --review": ("review.mkv", "video"),
             "render a folder": ("frames", "folder"), "render an image": ("out.png", "image"),
             "evaluate": ("report", "report"), "demo-data": ("demo", "files")}
    for command, make in limited.items():
        name, kind = kinds[command]
        for label, limit in (("ulimit -f 1 KiB", {"fsize": 1024}),
                             ("ulimit -f 40 KiB", {"fsize": 40960}),
                             ("a full disk (64 KiB)", {"disk": "64k"}),
                             ("a full disk (400 KiB)", {"disk": "400k"})):
            where = folder(f"limits {command} {label}")
            extra: dict[str, object] = dict(limit)
            if "disk" in extra:
                extra["disk"] = (where, extra["disk"])
            add(f"{command}: {label}", make(where), "any", [(where / name, kind)], **extra)
    prior = folder("limits prior output")
    add("render: a full disk over a prior output",
        ["render", p["ep2_bw"], "-m", run, "-o", prior / "out.mkv", *FAST], "any",
        [(prior / "out.mkv", "video")], fsize=8192, prepare=_copier(p["ep1_bw"], prior / "out.mkv"))

    # --- checkpoints that are well-formed but wrong
    for key in sorted(k for k in p if k.startswith("forged_")):
        what = key[7:].replace("_", " ")
        weights_only = key in ("forged_optimizer_removed", "forged_optimizer_shapes",
                               "forged_scheduler_type", "forged_scheduler_list",
                               "forged_log_not_objects", "forged_log_text_numbers",
                               "forged_log_garbage", "forged_config_lr_text",
                               "forged_metrics_text", "forged_optimizer_lr_nan",
                               "forged_optimizer_class", "forged_rng_missing",
                               "forged_config_seed_huge", "forged_config_width_text")
        target = folder(f"forged render {key}") / "out.mkv"
        add(f"render: forged checkpoint ({what})", ["render", p["ep2_bw"], "-m", p[key], "-o",
                                                   target, *FAST],
            "any" if weights_only else "error", [(target, "video")], frames=24)
        resumed = folder(f"forged resume {key}") / "run"
        add(f"train: --resume a forged checkpoint ({what})",
            ["train", "--resume", resumed, "--epochs", "2", "--workers", "0", "--device", "cpu"],
            "any" if key.startswith("forged_log") else "error", [(resumed, "files")],
            prepare=_copier(p[key], resumed))

    # --- values that cannot work
    for flag, value in (("--seed", str(2 ** 70)), ("--seed", "-1"), ("--width", "1000"),
                        ("--lr", "inf"), ("--lr", "nan"), ("--crop", str(2 ** 40)),
                        ("--batch-size", str(2 ** 40)), ("--epochs", str(2 ** 70)),
                        ("--max-images", str(2 ** 70))):
        target = folder(f"values train {flag} {value}") / "run"
        add(f"train: {flag} {value}", [*train_args, "-o", target, flag, value],
            "any" if flag == "--max-images" else "error", [(target, "run")])
    for flag, value in (("--size", "4096"), ("--size", str(2 ** 40)),
                        ("--batch-size", str(2 ** 40)), ("--workers", "100000"),
                        ("--shard", f"1/{2 ** 70}")):
        target = folder(f"values render {flag} {value}") / "out.mkv"
        add(f"render: {flag} {value}", ["render", p["ep2_bw"], "-m", run, "-o", target, *FAST,
                                        flag, value], "error", [(target, "video")])
    add("evaluate: a 12 fps result against a 25 fps truth",
        ["evaluate", p["ep1_bw"], "--truth", p["truth_25fps"]], "error")
    stale = folder("values truncated output")

    def render_then_cut() -> None:
        subprocess.run([sys.executable, "-m", "vidcolor", "-q", "render", str(p["ep2_bw"]),
                        "-m", str(run), "-o", str(stale / "out.mkv"), *FAST], check=True,
                       capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _cut_file(stale / "out.mkv")

    add("render: an output truncated after its render is not up to date",
        ["render", p["ep2_bw"], "-m", run, "-o", stale / "out.mkv", *FAST], "ok",
        [(stale / "out.mkv", "video")], frames=24, prepare=render_then_cut)

    # --- records and outputs edited by hand
    for label, record in (("frames text", {"frames": "eight"}), ("seconds NaN", "nan"),
                          ("a list", [1, 2]), ("output null", {"output": None})):
        edited = folder(f"records {label}")

        def edit(where: Path = edited, record: object = record) -> None:
            subprocess.run([sys.executable, "-m", "vidcolor", "-q", "render", str(p["ep2_bw"]),
                            "-m", str(run), "-o", str(where / "out.mkv"), *FAST], check=True,
                           capture_output=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            path = where / "out.mkv.vidcolor.json"
            data = json.loads(path.read_text())
            if isinstance(record, dict):
                data.update(record)
                text = json.dumps(data)
            elif record == "nan":
                text = json.dumps({**data, "seconds": float("nan")})
            else:
                text = json.dumps(record)
            path.write_text(text)

        add(f"render: over its own output whose record is edited ({label})",
            ["render", p["ep2_bw"], "-m", run, "-o", edited / "out.mkv", *FAST], "ok",
            [(edited / "out.mkv", "video")], frames=24, prepare=edit)
    taken = folder("records image name is a folder")
    add("render a folder: an output image name taken by a folder",
        ["render", p["frames"], "-m", run, "-o", taken / "out", *FAST], "error",
        prepare=lambda: (taken / "out" / "001.png" / "keep").mkdir(parents=True))
    season_dir = folder("records season.json is a folder")
    add("render a season: season.json is a folder",
        ["render", p["ep1_bw"], p["ep2_bw"], "-m", run, "-o", season_dir / "out", *FAST],
        "error", prepare=lambda: (season_dir / "out" / "season.json").mkdir(parents=True))
    for name, args in (("--refine felzenszwalb --fz-scale inf",
                        ["--refine", "felzenszwalb", "--fz-scale", "inf"]),
                       ("--working-scale nan", ["--refine", "regiongrow", "--working-scale",
                                                "nan"]),
                       ("--devices of 5000 entries", ["--devices", ",".join(["cpu"] * 5000)]),
                       ("--truth at another frame rate", ["--truth", p["truth_25fps"]])):
        target = folder(f"values render {name}") / "out.mkv"
        add(f"render: {name}", ["render", p["ep2_bw"], "-m", run, "-o", target,
                                *[a for a in FAST if a not in ("--refine", "none")], *args],
            "error", [(target, "video")])
    clash = folder("names clash")
    add("build-dataset: two inputs whose names differ only in case",
        ["build-dataset", clash / "Ep.mkv", clash / "ep.mkv", "-o", clash / "ds", "--size",
         "32"], "error", prepare=lambda: (shutil.copy(p["ep1"], clash / "Ep.mkv"),
                                          shutil.copy(p["ep2"], clash / "ep.mkv")))
    same = folder("names same file twice") / "ds"
    add("build-dataset: the same file given twice",
        ["build-dataset", p["ep1"], p["ep1"], p["ep2"], "-o", same, "--size", "32"], "ok",
        [(same, "dataset")])
    for name, damage in (
            ("meta.json a FIFO", lambda d: ((d / "meta.json").unlink(),
                                            os.mkfifo(d / "meta.json"))),
            ("a manifest row naming a frame outside", lambda d: (d / "manifest.csv").write_text(
                (d / "manifest.csv").read_text().replace("frames/", "frames/../../", 1))),
            ("series.json damaged", lambda d: (d / "series.json").write_text('{"palette": 5}'))):
        copy = folder(f"dataset {name}") / "ds"

        def prepare(copy: Path = copy, damage: Callable[[Path], object] = damage) -> None:
            shutil.copytree(dataset, copy)
            damage(copy)

        add(f"train: a dataset whose {name}", [*train_args[:-2], "--dataset", copy, "-o",
                                                copy.parent / "run"],
            "any" if "series" in name else "error", [(copy.parent / "run", "run")],
            prepare=prepare)
    look = folder("run series.json damaged") / "run"

    def damage_look() -> None:
        shutil.copytree(run, look)
        (look / "series.json").write_text('{"palette": [[50, 0]], "chroma_ceiling": "x"}')

    add("render: a run whose series.json is damaged",
        ["render", p["ep2_bw"], "-m", look, "-o", look.parent / "out.mkv", *FAST], "error",
        [(look.parent / "out.mkv", "video")], prepare=damage_look)

    # --- special files, odd but valid inputs
    for command, args in (("render", ["render", p["fifo"], "-m", run, *FAST]),
                          ("render /dev/zero", ["render", "/dev/zero", "-m", run, *FAST]),
                          ("render /dev/null", ["render", "/dev/null", "-m", run, *FAST]),
                          ("render an image FIFO", ["render", p["fifo_png"], "-m", run, *FAST]),
                          ("render a symlink to a FIFO", ["render", p["fifo_link"], "-m", run,
                                                          *FAST]),
                          ("render a socket", ["render", p["socket"], "-m", run, *FAST]),
                          ("evaluate a FIFO result", ["evaluate", p["fifo"], "--truth",
                                                      p["ep1"]]),
                          ("build-dataset", ["build-dataset", p["fifo"], "--size", "32"]),
                          ("evaluate", ["evaluate", p["ep1_bw"], "--truth", p["fifo"]])):
        target = folder(f"special {command}") / "out"
        add(f"{command.split()[0]}: a FIFO or device as input ({command})",
            [*args, "-o", target], "error")
    target = folder("odd size change") / "out.mkv"
    add("render: MPEG-TS whose size changes mid-stream", ["render", p["size_change"], "-m", run,
                                                          "-o", target, *FAST], "ok",
        [(target, "video")], frames=24)
    ds = folder("odd size change build") / "ds"
    add("build-dataset: MPEG-TS whose size changes mid-stream",
        ["build-dataset", p["size_change"], p["ep2"], "-o", ds, "--size", "32"], "ok",
        [(ds, "dataset")])
    for key in ("float_tiff", "deep_tiff"):
        target = folder(f"odd {key}") / "out.tiff"
        add(f"render: {key.replace('_', ' ')}", ["render", p[key], "-m", run, "-o", target,
                                                 *FAST], "ok", [(target, "image")])


def _build(target: Path, episodes: list[Path]) -> None:
    from vidcolor.dataset.build import build_dataset
    from vidcolor.dataset.records import DatasetParams

    build_dataset(episodes, target, params=DatasetParams(size=32))


def _copier(source: Path, target: Path) -> Callable[[], None]:
    def copy() -> None:
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return copy


# ---------------------------------------------------------------------------- classification

def _digest(path: Path) -> dict[str, str]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) \
        if path.is_dir() else []
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _snapshot(paths: list[Path]) -> dict[str, str]:
    digest: dict[str, str] = {}
    for path in paths:
        digest.update(_digest(path))
    return digest


def _check_output(path: Path, kind: str, frames: int | None) -> str | None:
    """Why an output that exists is not complete, or None."""
    from vidcolor.errors import VidcolorError

    try:
        if kind == "video":
            from vidcolor.video.decode import iter_frames

            count = sum(1 for _ in iter_frames(path, prefetch=0))
            if frames is not None and count != frames:
                return f"{path.name}: {count} frames, expected {frames}"
        elif kind == "image":
            from vidcolor.inference.sources import read_image

            read_image(path)
        elif kind == "folder":
            from vidcolor.inference.sources import folder_images, read_image

            for image in folder_images(path):
                read_image(image)
        elif kind == "dataset":
            from vidcolor.dataset.reader import verify_dataset

            verify_dataset(path)
        elif kind == "run":
            from vidcolor.checkpoint.read import load_checkpoint

            load_checkpoint(path)
        elif kind == "report":
            json.loads((path / "report.json").read_text())
    except (VidcolorError, OSError, ValueError) as exc:
        return f"{path.name}: {exc}"
    return None


def _leftovers(folders: set[Path], success: bool) -> list[str]:
    """Half-written files (``.part``) and lock files in ``folders``; after a success also
    staging folders (a failed render may keep its staging folder to resume from)."""
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.is_dir() else []:
            if ".part" in path.name or path.name.endswith(".lock") or \
                    (success and ".vidcolor-" in path.name and path.is_dir()):
                found.append(path.name)
    return sorted(found)


# A process that has imported vidcolor (and torch) once and forks one child per case: the
# child is a process of its own (its own stdout/stderr file descriptors, so C libraries' output
# is seen; its own exit code; killed on timeout), started in milliseconds instead of seconds.
_FORK_SERVER = r"""
import json, os, signal, sys, time, traceback
import vidcolor._cli.main, vidcolor.training.loop, vidcolor.dataset.build, vidcolor.evaluation.runs
import vidcolor.evaluation.season
import vidcolor.inference.render, vidcolor.inference.batch, vidcolor.video.decode
import vidcolor.video.writer
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(job["cwd"])
            if job.get("fsize"):
                import resource
                resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
            for fd, name in ((1, job["stdout"]), (2, job["stderr"])):
                os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            sys.argv = ["vidcolor", *job["args"]]
            try:
                vidcolor._cli.main.cli.main(job["args"], prog_name="vidcolor")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)
    deadline = time.monotonic() + job["timeout"]
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline and not timed_out:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"code": code, "timed_out": timed_out}), flush=True)
"""


class Launcher:
    """Runs ``vidcolor ARGS`` in a process of its own: forked from a server that imported
    vidcolor once (default), or a fresh ``python -m vidcolor`` (``fresh``)."""

    def __init__(self, env: dict[str, str], fresh: bool) -> None:
        self.env, self.fresh = env, fresh
        self._server: subprocess.Popen[str] | None = None

    def run(self, args: list[str], cwd: Path, timeout: float, logs: Path,
            fsize: int | None = None) -> tuple[int, str, str, bool]:
        """(exit code, stdout, stderr, timed out) of one command (``fsize``: its ``ulimit -f``
        in bytes)."""
        if self.fresh:
            def limit() -> None:
                import resource

                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

            try:
                done = subprocess.run([sys.executable, "-m", "vidcolor", *args], cwd=cwd,
                                      env=self.env, capture_output=True, text=True,
                                      timeout=timeout, preexec_fn=limit if fsize else None)
            except subprocess.TimeoutExpired:
                return -9, "", "", True
            return done.returncode, done.stdout, done.stderr, False
        if self._server is None:
            self._server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER], cwd=ROOT,
                                            env=self.env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True)
        out, err = logs.with_suffix(".out"), logs.with_suffix(".err")
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "timeout": timeout,
                                             "stdout": str(out), "stderr": str(err),
                                             "fsize": fsize}) + "\n")
        self._server.stdin.flush()
        reply = json.loads(self._server.stdout.readline())
        return reply["code"], out.read_text(errors="replace"), \
            err.read_text(errors="replace"), reply["timed_out"]

    def close(self) -> None:
        if self._server is not None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait()


def run_case(case: Case, timeout: float, launcher: Launcher, work: Path, index: int
             ) -> Outcome:
    started = time.perf_counter()
    if case.disk is not None and not _mount_small_disk(*case.disk):
        return Outcome(case, "skipped", "cannot mount a small tmpfs here (not root?)", 0.0)
    if case.prepare is not None:
        case.prepare()
    outputs = {path for path, _ in case.outputs}
    arg_paths = [Path(a) for a in case.args if os.sep in a and _exists(Path(a))]
    protected = [p for p in [*arg_paths, *case.protected]
                 if not any(p == o or o in p.parents for o in outputs)]
    before = _snapshot(protected)
    prior = {path: _digest(path) for path in outputs if path.exists()}
    with _read_only(case.readonly) if case.readonly else contextlib.nullcontext(True) as ro:
        if not ro:
            return Outcome(case, "skipped", "cannot make a folder read-only here", 0.0)
        code, _, err, timed_out = launcher.run(["-q", *case.args], work, timeout,
                                               work / "logs" / f"case{index:03d}", case.fsize)
    seconds = time.perf_counter() - started
    if timed_out:
        return Outcome(case, "timeout", f"still running after {timeout:.0f} s", seconds)
    err = err.strip()
    lines = err.splitlines()
    last = lines[-1] if lines else ""
    if "Traceback (most recent call last)" in err or code not in (0, 1, 2):
        return Outcome(case, "traceback", f"exit {code}: {last}", seconds)
    changed = [Path(k).name for k, v in before.items() if _digest(Path(k)).get(k) != v]
    if changed:
        return Outcome(case, "corrupted output", f"changed: {', '.join(changed)}", seconds)
    problems = []
    for path, kind in case.outputs:
        if code != 0 and path in prior:
            if _digest(path) != prior[path]:
                problems.append(f"{path.name}: a failed command changed the prior output")
        elif path.exists() and (code == 0 or _looks_finished(path, kind)):
            problem = _check_output(path, kind, case.frames if code == 0 else None)
            if problem:
                problems.append(problem)
    left = _leftovers({path.parent for path in outputs}, code == 0)
    if left:
        problems.append(f"left behind: {', '.join(left)}")
    if problems:
        return Outcome(case, "corrupted output", "; ".join(problems), seconds)
    if code == 0:
        if case.expect == "error":
            return Outcome(case, "wrong acceptance", "exit 0", seconds)
        if err:
            return Outcome(case, "noisy", f"exit 0 but stderr: {lines[0][:80]}", seconds)
        return Outcome(case, "ok", "", seconds)
    one_line = len(lines) == 1 and lines[0].startswith("vidcolor: error: ")
    usage = code == 2 and err.startswith("Usage: ") and last.startswith("Error: ")
    if not (one_line or usage):
        return Outcome(case, "noisy", f"exit {code}, {len(lines)} stderr lines: "
                       f"{' | '.join(line[:60] for line in lines[:3])}", seconds)
    if case.expect == "ok":
        return Outcome(case, "wrong rejection", last, seconds)
    return Outcome(case, "clean error", last, seconds)


#: The small file systems mounted for ``Case.disk`` (unmounted when the battery ends).
_MOUNTS: list[Path] = []


def _mount_small_disk(folder: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` on the empty ``folder``: a disk that fills up."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode == 0:
        _MOUNTS.append(folder)
    return done.returncode == 0


def _unmount_all() -> None:
    while _MOUNTS:
        subprocess.run(["umount", "-l", str(_MOUNTS.pop())], capture_output=True)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long, a symlink loop
        return False


def _looks_finished(path: Path, kind: str) -> bool:
    """Whether what a failed command left at an output path claims to be complete (a file,
    a dataset with its metadata, a run with a checkpoint pointer, a report)."""
    marker = {"dataset": "meta.json", "run": "latest.json", "report": "report.json"}.get(kind)
    if marker is not None:
        return (path / marker).is_file()
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", dest="pattern", default="",
                        help="only the cases whose name contains this text")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--fresh", action="store_true",
                        help="start every case as a fresh `python -m vidcolor` (slower: each "
                             "imports torch) instead of forking it from a loaded server")
    parser.add_argument("--full", action="store_true",
                        help="also the slow cases (rendering the whole real truncated clip)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the inputs and outputs here and keep them")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        work, cleanup = args.keep.resolve(), None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="vidcolor-robustness-")
        work = Path(cleanup.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VIDCOLOR_DEBUG", None)
    launchers: list[Launcher] = []
    local = threading.local()

    def launch(case: Case, index: int) -> Outcome:
        if not hasattr(local, "launcher"):
            local.launcher = Launcher(env, args.fresh)
            launchers.append(local.launcher)
        return run_case(case, args.timeout, local.launcher, work, index)

    try:
        inputs = make_inputs(work)
        (work / "logs").mkdir()
        cases = [c for c in make_cases(inputs, work, args.full) if args.pattern in c.name]
        print(f"{len(cases)} cases; inputs made in {time.perf_counter() - started:.0f} s "
              f"under {work}", flush=True)
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = [pool.submit(launch, case, index) for index, case in enumerate(cases)]
            outcomes = []
            for future in futures:
                outcome = future.result()
                outcomes.append(outcome)
                print(f"{outcome.status:17s} {outcome.seconds:5.1f}s  {outcome.case.name}"
                      f"{'  -- ' + outcome.detail if outcome.detail else ''}", flush=True)
    finally:
        for launcher in launchers:
            launcher.close()
        _unmount_all()
        if cleanup is not None:
            cleanup.cleanup()
    tally = Counter(o.status for o in outcomes)
    print()
    print(f"inputs tried {len(outcomes)}: ok {tally['ok']}, clean errors {tally['clean error']}, "
          f"tracebacks {tally['traceback']}, wrongly rejected valid files "
          f"{tally['wrong rejection']}, corrupted outputs {tally['corrupted output']}, "
          f"noisy {tally['noisy']}, wrongly accepted {tally['wrong acceptance']}, timeouts "
          f"{tally['timeout']}, skipped {tally['skipped']} "
          f"({time.perf_counter() - started:.0f} s)")
    return 1 if any(tally[status] for status in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
