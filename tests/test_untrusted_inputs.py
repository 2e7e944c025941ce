"""Odd and hostile inputs and outputs of the readers and the writer (issue 18).

Special files (FIFOs, devices, sockets) are refused before anything opens them; a video whose
resolution changes or whose clock restarts part-way is read at one size with increasing
timestamps; float and 16-bit TIFFs are read; a full disk while writing a video is one error
naming the output, leaving no partial file and an earlier output as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import file_size_limit, moving_square_frames, write_clip

from vidcolor._cli.main import cli
from vidcolor.errors import InputError, OutputError
from vidcolor.inference.sources import open_source, read_image
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe
from vidcolor.video.writer import VideoWriter

# --- special files -----------------------------------------------------------------------


def _finishes(call: Callable[[], object], fifo: Path) -> BaseException | None:
    """Run ``call`` in a thread; fail if it blocks on ``fifo``; return what it raised."""
    outcome: dict[str, BaseException] = {}

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["exc"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    hung = thread.is_alive()
    if hung:  # release a reader blocked in open(): a writer that closes at once gives EOF
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
    assert not hung, f"blocked on the FIFO {fifo}"
    return outcome.get("exc")


@pytest.mark.parametrize("name", ["episode.mp4", "frame.png"])
def test_a_fifo_is_refused_before_it_is_opened(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    readers: list[Callable[[], object]] = [lambda: probe(fifo), lambda: list(iter_frames(fifo)),
                                           lambda: open_source(fifo), lambda: read_image(fifo)]
    for reader in readers:
        exc = _finishes(reader, fifo)
        assert isinstance(exc, InputError), exc
        assert str(exc) == (f"{fifo}: is a FIFO (named pipe), not a regular file; save the "
                            "input to a file first")


def test_a_fifo_truth_is_one_error_line_from_evaluate(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "result.mp4", moving_square_frames(4), audio=False)
    fifo = tmp_path / "truth.mp4"
    os.mkfifo(fifo)
    result = {}
    _finishes(lambda: result.update(out=CliRunner().invoke(
        cli, ["evaluate", str(clip), "--truth", str(fifo)])), fifo)
    assert result["out"].exit_code == 1
    assert result["out"].output.strip().splitlines() == [
        f"vidcolor: error: {fifo}: is a FIFO (named pipe), not a regular file; save the input "
        "to a file first"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    for reader in (probe, open_source, read_image):
        with pytest.raises(InputError, match=f"^{device}: is a character device, not a "
                                             "regular file"):
            reader(Path(device))


def test_a_socket_is_refused_and_a_folder_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "sock.mp4"
    if len(str(path)) > 100:
        pytest.skip("path too long for a Unix socket")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(InputError, match="is a socket, not a regular file"):
            probe(path)
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), np.zeros((8, 8, 3), np.uint8))
    assert open_source(folder).kind == "folder"
    with pytest.raises(InputError, match="is a directory"):
        probe(folder)
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")


# --- a video whose resolution changes ---------------------------------------------------


def _ts_segment(path: Path, frames: list[np.ndarray], width: int, height: int) -> bytes:
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(cv2.resize(rgb, (width, height)), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path.read_bytes()


def _resolution_change(tmp_path: Path, count: int = 12) -> Path:
    """An MPEG-TS of ``count`` 64x48 frames, then ``count`` 80x60 ones: two streams joined
    by their bytes (as a recorder or ``cat`` joins them), so the clock restarts too."""
    frames = moving_square_frames(2 * count)
    first = _ts_segment(tmp_path / "a.ts", frames[:count], 64, 48)
    second = _ts_segment(tmp_path / "b.ts", frames[count:], 80, 60)
    path = tmp_path / "joined.ts"
    path.write_bytes(first + second)
    return path


def test_a_resolution_change_is_scaled_to_the_first_size(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _resolution_change(tmp_path)
    info = probe(path)
    assert (info.width, info.height) == (64, 48)
    with caplog.at_level(logging.WARNING, logger="vidcolor.video"):
        frames = list(iter_frames(path))
    assert len(frames) == 24
    assert {frame.rgb.shape for frame in frames} == {(48, 64, 3)}
    pts = [frame.pts for frame in frames]
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False)), pts
    times = [frame.time for frame in frames]
    assert times == sorted(times) and len(set(times)) == len(times)
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "resolution changes at frame 12 (80x60 after 64x48)" in messages
    assert "timestamps go back at frame 12" in messages
    # the scaled frames are the pictures, not noise: the square is where it was drawn
    want = cv2.resize(moving_square_frames(24)[20], (64, 48))
    assert np.abs(frames[20].rgb.astype(int) - want.astype(int)).mean() < 8
    # what render does with them: the same size and timestamps into a writer
    out = tmp_path / "copy.mp4"
    with VideoWriter(out, info.frame_rate, 64, 48, time_base=info.time_base) as writer:
        for frame in frames:
            writer.write(frame.rgb, pts=frame.pts)
    assert len(list(iter_frames(out))) == 24


def test_a_resolution_change_renders(tmp_path: Path) -> None:
    from conftest import save_tiny_run

    from vidcolor.inference.options import RenderOptions
    from vidcolor.inference.render import render

    path = _resolution_change(tmp_path)
    run = save_tiny_run(tmp_path / "runs" / "tiny")
    out = render(path, [run], tmp_path / "out.mp4",
                 options=RenderOptions(refine="none", size=16, workers=0))
    decoded = list(iter_frames(out))
    assert len(decoded) == 24 and {f.rgb.shape for f in decoded} == {(48, 64, 3)}
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.mp4")]


# --- float and 16-bit images -------------------------------------------------------------


def _gradient(dtype: type, scale: float) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, 64, dtype=np.float64)[None, :, None]
    image = np.broadcast_to(ramp, (48, 64, 3)).copy()
    image[..., 0] *= 0.5  # blue (OpenCV's first channel) at half the ramp
    return (image * scale).astype(dtype)


@pytest.mark.parametrize(("dtype", "scale"), [(np.float32, 1.0), (np.float64, 1.0),
                                              (np.uint16, 65535.0)])
def test_float_and_16_bit_tiffs_are_read(tmp_path: Path, dtype: type, scale: float) -> None:
    path = tmp_path / "frame.tiff"
    assert cv2.imwrite(str(path), _gradient(dtype, scale))
    rgb, alpha = read_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3) and alpha is None
    want = np.rint(np.linspace(0, 255, 64))
    assert np.abs(rgb[0, :, 0] - want).max() <= 1  # red: the whole ramp
    assert np.abs(rgb[0, :, 2] - want / 2).max() <= 1  # blue: half of it


def test_out_of_range_floats_are_clipped(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3), np.float32)
    image[0] = 1.5
    image[1] = -3.0
    image[2] = np.nan
    path = tmp_path / "odd.tif"
    assert cv2.imwrite(str(path), image)
    rgb, _ = read_image(path)
    assert rgb[0].min() == 255 and rgb[1].max() == 0 and rgb[2].max() == 0


def test_float_tiff_of_8_bit_levels_is_read_as_0_to_255(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3), np.float32)
    image[0], image[1] = 255.0, 64.0
    path = tmp_path / "levels.tif"
    assert cv2.imwrite(str(path), image)
    rgb, _ = read_image(path)
    assert rgb[0].min() == 255 and set(np.unique(rgb[1])) == {64} and rgb[2:].max() == 0


def test_damaged_float_tiff_is_one_error_and_nothing_printed(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = cv2.imencode(".tiff", _gradient(np.float32, 1.0))[1].tobytes()
    path = tmp_path / "cut.tiff"
    for cut in (8, 100, len(data) // 2, len(data) - 100, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match="cut.tiff: not a readable image"):
            read_image(path)
    assert capfd.readouterr().err == ""


def _with_tiff_size(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF with its first directory's width and height replaced."""
    patched = bytearray(data)
    offset = struct.unpack_from("<I", data, 4)[0]
    for number in range(struct.unpack_from("<H", data, offset)[0]):
        entry = offset + 2 + 12 * number
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            struct.pack_into("<H" if kind == 3 else "<I", patched, entry + 8,
                             width if tag == 256 else height)
    return bytes(patched)


def test_a_float_tiff_too_large_to_allocate_is_refused(tmp_path: Path) -> None:
    data = cv2.imencode(".tiff", np.zeros((4, 4, 3), np.float32))[1].tobytes()
    path = tmp_path / "bomb.tiff"
    path.write_bytes(_with_tiff_size(data, 60000, 60000))
    with pytest.raises(InputError, match="bomb.tiff: not a readable image .*60000x60000"):
        read_image(path)


# --- a full disk while writing a video ---------------------------------------------------




def _write(path: Path, frames: list[np.ndarray], **options: object) -> None:
    with VideoWriter(path, Fraction(24), 64, 48, **options) as writer:
        for frame in frames:
            writer.write(frame)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "avi"])
def test_full_disk_while_writing_a_video(tmp_path: Path, ext: str) -> None:
    frames = moving_square_frames(24)
    probe_path = tmp_path / f"size.{ext}"
    _write(probe_path, frames)
    full = probe_path.stat().st_size
    probe_path.unlink()
    out = tmp_path / f"out.{ext}"
    out.write_bytes(b"an earlier render")
    # 10 bytes: refused at the first packet; half and all but 100: refused while the muxer
    # flushes and writes its trailer on close
    for limit in (10, full // 2, full - 100):
        with file_size_limit(limit), pytest.raises(OutputError) as caught:
            _write(out, frames)
        assert str(caught.value) == (f"{out}: cannot write (File too large); nothing was "
                                     "published under this name"), limit
        assert out.read_bytes() == b"an earlier render"
        assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_staged_part_names_the_output_in_its_errors(tmp_path: Path) -> None:
    staging = tmp_path / ".out.mp4.staging"
    staging.mkdir()
    with file_size_limit(10), pytest.raises(OutputError) as caught:
        _write(staging / "seg-000000.mp4", moving_square_frames(4), name=tmp_path / "out.mp4")
    assert str(caught.value).startswith(f"{tmp_path / 'out.mp4'}: cannot write")
    assert list(staging.iterdir()) == []


def test_a_container_that_cannot_hold_h264_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="out.webm: cannot start writing"):
        _write(tmp_path / "out.webm", moving_square_frames(2))
    assert list(tmp_path.iterdir()) == []
