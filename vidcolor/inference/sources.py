"""Where frames come from: a video, one image, or a folder of images (render and evaluate).

:func:`input_kind` tells them apart, :func:`open_source` opens one as a :class:`Source` (its
frames, their count, and the facts a writer needs), and :func:`read_image` reads one image as
RGB uint8 (16-bit, float and grey images converted; an alpha channel kept apart).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vidcolor.errors import InputError
from vidcolor.inference.stages import SourceFrame
from vidcolor.video.inputs import check_input_file

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Image formats that can hold an alpha channel: read with it, and written back with it.
ALPHA_EXTENSIONS = (".png", ".tif", ".tiff", ".webp")
#: A frame counts as colour when more than this fraction of pixels has an RGB spread > 12 levels.
_COLOUR_FRACTION = 0.005


def input_kind(path: Path) -> str:
    """``"video"``, ``"image"`` or ``"folder"``.

    Raises:
        InputError: the path does not exist, or is not a file or folder (a FIFO, a device).
    """
    if check_input_file(path, folder_ok=True):
        return "folder"
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return "image"
    return "video"


def folder_images(folder: Path) -> list[Path]:
    """The images of a folder, sorted by name (the order of the frames).

    Raises:
        InputError: the folder holds no image.
    """
    images = sorted(p for p in folder.iterdir()
                    if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return images


def _to_uint8(image: np.ndarray) -> np.ndarray | None:
    """8-bit version of a 16-bit or float image (None for other depths).

    Float images are taken as 0 (black) to 1 (white), or as 0 to 255 when their values pass
    2 (a float file of 8-bit levels): values outside are clipped, and NaN is black.

    >>> _to_uint8(np.array([[0.0, 0.5, 1.5, np.nan]], np.float32)).tolist()
    [[0, 128, 255, 0]]
    >>> _to_uint8(np.array([[0.0, 128.0, 255.0]], np.float32)).tolist()
    [[0, 128, 255]]
    """
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return np.rint(image / 257.0).astype(np.uint8)
    if image.dtype.kind == "f":
        image = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        white = 255.0 if image.size and float(image.max()) > 2.0 else 1.0
        return np.rint(np.clip(image / white, 0.0, 1.0) * 255.0).astype(np.uint8)
    return None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_problem(data: bytes) -> str | None:
    """Why a PNG's chunk stream is damaged (a chunk cut off or failing its CRC, no IEND), or
    None. Pillow decodes the pixels without reading that far; libpng does, and prints."""
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            break
        kind = data[pos + 4:pos + 8]
        if zlib.crc32(data[pos + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            return f"{kind.decode('latin-1')} chunk fails its checksum"
        if kind == b"IEND":
            return None
        pos = end
    return "image file is truncated"


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) in a TIFF's first directory, None where it does not say.

    >>> import cv2
    >>> _tiff_size(cv2.imencode(".tiff", np.zeros((3, 5), np.float32))[1].tobytes())
    (5, 3)
    """
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\0", b"\0+")
    count_format, entry_format = ("Q", "HHQ8s") if big else ("H", "HHI4s")
    try:
        offset = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)[0]
        entries = struct.unpack_from(order + count_format, data, offset)[0]
        first = offset + struct.calcsize(order + count_format)
        entry_size = struct.calcsize(order + entry_format)
        size = {}
        for number in range(min(entries, 4096)):
            tag, kind, _, value = struct.unpack_from(order + entry_format, data,
                                                     first + number * entry_size)
            value_format = {3: "H", 4: "I", 16: "Q"}.get(kind)
            if tag in (256, 257) and value_format is not None:
                size[tag] = struct.unpack_from(order + value_format, value)[0]
    except struct.error:
        return None
    return (size[256], size[257]) if len(size) == 2 else None


def _unidentified_problem(data: bytes) -> str | None:
    """Why an image Pillow cannot identify is refused; None for a TIFF of a layout Pillow
    lacks (float RGB), which OpenCV decodes (its size checked here, as Pillow checks it)."""
    from PIL import Image

    if not data.startswith(_TIFF_MAGIC):
        return "unknown image format, or its header is damaged"
    size = _tiff_size(data)
    if size is None:
        return "its TIFF header is damaged"
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 1 << 62)  # where Pillow refuses a decompression bomb
    if size[0] * size[1] > limit:
        return f"{size[0]}x{size[1]} pixels, more than the {limit} an image may have"
    return None


_QUIET_LOCK = threading.Lock()
_quiet: dict[str, int] = {"users": 0, "level": 0}


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's log silenced while decoding: libtiff's complaints about a damaged or odd file
    go there, and a failed decode is reported as one InputError instead. The level is
    process-wide: it is restored when the last thread decoding leaves."""
    levels = cv2.utils.logging
    with _QUIET_LOCK:
        if _quiet["users"] == 0:
            _quiet["level"] = levels.getLogLevel()
            levels.setLogLevel(levels.LOG_LEVEL_SILENT)
        _quiet["users"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet["users"] -= 1
            if _quiet["users"] == 0:
                levels.setLogLevel(_quiet["level"])


def _check_complete(path: Path, data: bytes) -> None:
    """Refuse a damaged image file with one line (decoders print to stderr and carry on).

    A TIFF of a layout Pillow lacks (float RGB) passes on to OpenCV, which reads it (with its
    log silenced: a failed decode is then the one error).
    """
    from PIL import Image, UnidentifiedImageError

    problem = None
    with warnings.catch_warnings(record=True) as caught:  # Pillow warns on cut-off tags
        warnings.simplefilter("always")
        try:
            with Image.open(io.BytesIO(data)) as image:
                if any("truncated" in str(w.message).lower() and "PIL" in Path(w.filename).parts
                       for w in caught):
                    problem = "image file is truncated"  # before libtiff reads it and prints
                else:
                    image.load()
        except UnidentifiedImageError:
            problem = _unidentified_problem(data)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            problem = str(exc)
    if problem is None and data.startswith(_PNG_SIGNATURE):
        problem = _png_problem(data)
    if problem is not None:
        raise InputError(f"{path}: not a readable image ({problem})")


_UNDECODABLE = "not a readable image (damaged, or a pixel layout OpenCV cannot decode)"


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 ``(H, W, 3)`` of an image, and its alpha channel (uint8) when it has one.

    Formats that can carry alpha are read unchanged (grey, 16-bit and float images are
    converted to 8-bit RGB here: floats as 0 to 1, or 0 to 255, clipped); the others (JPEG: its EXIF
    orientation applied) as colour. A damaged file is an :class:`InputError` naming it
    (nothing is printed by the decoders).

    Raises:
        InputError: missing, unreadable or damaged image, or not a regular file (a FIFO, a
            device).
    """
    check_input_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    _check_complete(path, data)
    buffer = np.frombuffer(data, np.uint8)
    if path.suffix.lower() in ALPHA_EXTENSIONS or data.startswith(_TIFF_MAGIC):
        with _quiet_opencv():
            image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise InputError(f"{path}: {_UNDECODABLE}")
        eight_bit = _to_uint8(image)
        if eight_bit is not None and (eight_bit.ndim == 2 or eight_bit.shape[2] in (1, 3, 4)):
            if eight_bit.ndim == 2 or eight_bit.shape[2] == 1:
                return cv2.cvtColor(eight_bit, cv2.COLOR_GRAY2RGB), None
            if eight_bit.shape[2] == 4:
                return (cv2.cvtColor(eight_bit, cv2.COLOR_BGRA2RGB),
                        np.ascontiguousarray(eight_bit[..., 3]))
            return cv2.cvtColor(eight_bit, cv2.COLOR_BGR2RGB), None
    with _quiet_opencv():
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{path}: {_UNDECODABLE}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None


def is_colour(rgb: np.ndarray) -> bool:
    """True when a frame has visible chroma (a grey video decodes to R ≈ G ≈ B)."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    sample = rgb[::step, ::step].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return float((spread > 12).mean()) > _COLOUR_FRACTION


@dataclass
class Source:
    """An opened input.

    Attributes:
        path: the video, image or folder.
        kind: ``"video"``, ``"image"`` or ``"folder"``.
        count: the number of frames (exact for images; the container's figure for a video).
        images: a folder's image files, in frame order.
        video: the video's :class:`vidcolor.video.probe.VideoInfo`.
    """

    path: Path
    kind: str
    count: int
    images: list[Path]
    video: object | None = None

    def frames(self, *, skip: int = 0, skip_errors: bool = False) -> Iterator[SourceFrame]:
        """The frames, from frame ``skip`` on (decoded one at a time; the caller prefetches).

        A damaged video is an :class:`InputError` after its readable frames, or with
        ``skip_errors`` the end of the frames (a warning says how many were readable).
        """
        if self.kind == "video":
            from vidcolor.video.decode import iter_frames

            readable = 0
            try:
                for frame in iter_frames(self.path, prefetch=0, skip_errors=skip_errors):
                    readable = frame.index + 1
                    if frame.index >= skip:
                        yield SourceFrame(key=frame.index, pts=frame.pts, rgb=frame.rgb)
            except InputError as exc:
                # the decoder's advice names build-dataset's option; say what render offers
                problem, advice, _ = str(exc).partition("; pass --skip-errors")
                if not advice:
                    raise
                raise InputError(f"{problem}; only its first {readable} frames are readable "
                                 "(pass --skip-errors to render them)") from None
            return
        for image in self.images[skip:]:
            rgb, alpha = read_image(image)
            yield SourceFrame(key=image.name, pts=None, rgb=rgb, alpha=alpha)


def open_source(path: str | os.PathLike[str]) -> Source:
    """Open a video, an image or a folder of images (its metadata; frames are read later).

    Raises:
        InputError: missing, unreadable, or an empty folder.
    """
    path = Path(path)
    kind = input_kind(path)
    if kind == "video":
        from vidcolor.video.probe import probe

        info = probe(path)
        return Source(path, kind, info.frame_count, [], info)
    images = [path] if kind == "image" else folder_images(path)
    return Source(path, kind, len(images), images)


def warn_if_colour(frames: Iterator[SourceFrame], where: Path) -> Iterator[SourceFrame]:
    """Pass frames through, logging once if the input has colour (only its L is used)."""
    warned = False
    for frame in frames:
        if not warned and is_colour(frame.rgb):
            name = where / str(frame.key) if where.is_dir() else where
            log.warning("%s: colour input; only its luminance is used", name)
            warned = True
        yield frame
