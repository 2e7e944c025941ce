"""Dense optical flow and warping along it: the one DIS setup of vidcolor (torch-free).

Two users follow motion from frame t back to frame t-1: the temporal stage
(:mod:`vidcolor.inference.temporal`, on grey thumbnails) and the temporal metrics
(:mod:`vidcolor.metrics.temporal`, on the truth's lightness). Both use OpenCV's DIS optical
flow with :data:`FLOW_PRESET` (Kroeger et al., *Fast Optical Flow using Dense Inverse Search*,
ECCV 2016), turn the flow into ``cv2.remap`` maps with :func:`source_maps`, and warp with
:func:`warp`.

Example:
    >>> still = np.zeros((16, 16), np.uint8)
    >>> flow = flow_between(dis_flow(), still, still)
    >>> map_x, map_y = source_maps(flow)
    >>> bool(np.array_equal(warp(still, map_x, map_y), still))
    True
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FLOW_PRESET", "dis_flow", "flow_between", "pixel_grid", "source_maps", "warp"]

FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
"""OpenCV DIS preset of every optical flow vidcolor computes (``medium``)."""


def dis_flow() -> cv2.DISOpticalFlow:
    """A DIS optical flow with :data:`FLOW_PRESET`, to reuse frame after frame."""
    return cv2.DISOpticalFlow_create(FLOW_PRESET)


def flow_between(dis: cv2.DISOpticalFlow, frame: np.ndarray, reference: np.ndarray
                 ) -> np.ndarray:
    """Where each pixel of ``frame`` was in ``reference``: float32 ``(H, W, 2)`` offsets (x, y).

    Args:
        dis: a flow from :func:`dis_flow`.
        frame, reference: uint8 grey images ``(H, W)`` of one size (at least 12 pixels a side).

    Returns:
        The flow ``w``: pixel ``p`` of ``frame`` shows what ``p + w(p)`` of ``reference`` showed.
    """
    return dis.calc(frame, reference, None)


def pixel_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixel coordinates as float32 ``(1, W)`` x and ``(H, 1)`` y (they broadcast)."""
    return (np.arange(width, dtype=np.float32)[None, :],
            np.arange(height, dtype=np.float32)[:, None])


def source_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps of a flow: float32 ``(H, W)`` x and y of each pixel's source."""
    height, width = flow.shape[:2]
    grid_x, grid_y = pixel_grid(width, height)
    return flow[..., 0] + grid_x, flow[..., 1] + grid_y


def warp(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, *, nearest: bool = False,
         fill: float | tuple[float, ...] | None = None) -> np.ndarray:
    """``image`` resampled at ``(map_x, map_y)``: the earlier frame moved onto the later one.

    Args:
        image: ``(H', W')`` or ``(H', W', C)`` array ``cv2.remap`` takes (uint8, float32).
        map_x, map_y: float32 ``(H, W)`` source coordinates, e.g. :func:`source_maps`.
        nearest: nearest-neighbour (labels) instead of bilinear interpolation.
        fill: the value of sources outside the image; ``None``: the nearest edge pixel's.

    Returns:
        The warped image, ``(H, W)`` or ``(H, W, C)``, of ``image``'s dtype.
    """
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    if fill is None:
        return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=fill)
