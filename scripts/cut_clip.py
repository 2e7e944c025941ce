"""Cut a colour clip into consecutive parts, each with its black-and-white twin.

Turns one real colour clip into a tiny "series": train on the first parts, colourise the grey
twin of the last and compare it with its colour original. A damaged file is read up to the
damage (the frames before it are kept, as ``--skip-errors`` does).

    python scripts/cut_clip.py ../shared/media/copying_is_not_theft.mp4 work/cint --parts 3
    # -> work/cint/part1.mkv part1_bw.mkv part2.mkv ... (grey = the colour's luminance)

The twins are made like the demo series' (:func:`vidcolor.demo.bw_frame`: by default each
pixel's luminance as grey), at the source's size, frame rate and timestamps. ``--grey bt601``
(or ``bt709``) makes them as an archive's copy is made instead (luma of the encoded values, as
``ffmpeg -vf format=gray``); see :data:`vidcolor.color.GREY_MODELS`.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np

from vidcolor.color import GREY_MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--width", type=int, default=None,
                        help="scale to this width (even; height follows the aspect ratio)")
    parser.add_argument("--grey", choices=GREY_MODELS, default=GREY_MODELS[0],
                        help="how the _bw twins are made grey (default: %(default)s)")
    args = parser.parse_args()

    from vidcolor.demo import bw_frame
    from vidcolor.video import VideoWriter, iter_frames, probe

    info = probe(args.clip)
    frames = [(frame.pts, frame.rgb) for frame in iter_frames(args.clip, skip_errors=True)]
    width, height = info.width, info.height
    if args.width:
        import cv2

        height = 2 * round(args.width * height / width / 2)
        width = args.width
        frames = [(pts, cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
                  for pts, rgb in frames]
    args.outdir.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(frames), args.parts + 1).round().astype(int)
    for part in range(args.parts):
        chunk = frames[bounds[part]:bounds[part + 1]]
        for suffix, convert in (("", None), ("_bw", partial(bw_frame, grey=args.grey))):
            path = args.outdir / f"part{part + 1}{suffix}.mkv"
            with VideoWriter(path, info.frame_rate, width, height,
                             time_base=info.time_base) as writer:
                for pts, rgb in chunk:
                    writer.write(rgb if convert is None else convert(rgb), pts=pts)
        print(f"part{part + 1}: frames {bounds[part]}-{bounds[part + 1] - 1} "
              f"({len(chunk)}) -> {args.outdir}/part{part + 1}.mkv (+ _bw, {args.grey})")


if __name__ == "__main__":
    main()
