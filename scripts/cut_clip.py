"""Cut a colour clip into consecutive parts, each with its black-and-white twin.

Turns one real colour clip into a tiny "series": train on the first parts, colourise the grey
twin of the last and compare it with its colour original. A damaged file is read up to the
damage (the frames before it are kept, as ``--skip-errors`` does).

    python scripts/cut_clip.py ../shared/media/copying_is_not_theft.mp4 work/cint --parts 3
    # -> work/cint/part1.mkv part1_bw.mkv part2.mkv ... (grey = the colour's luminance)

The twins are made like the demo series' (:func:`vidcolor.demo.twins.bw_frame`: by default each
pixel's luminance as grey), at the source's size, frame rate and timestamps. ``--grey bt601``
(or ``bt709``) makes them as an archive's copy is made instead (luma of the encoded values, as
``ffmpeg -vf format=gray``); see :data:`vidcolor.color.grey.GREY_MODELS`. ``--film`` wears the twins
like a film print (:func:`vidcolor.film.film_frame`: grain, flicker, weave, dust, scratches,
seeded by ``--film-seed`` and the frame's index in the whole clip); the colour parts stay clean.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidcolor.color.grey import GREY_MODELS
from vidcolor.film import WEAR_KINDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--parts", type=int, default=3)
    parser.add_argument("--width", type=int, default=None,
                        help="scale to this width (even; height follows the aspect ratio)")
    parser.add_argument("--grey", choices=GREY_MODELS, default=GREY_MODELS[0],
                        help="how the _bw twins are made grey (default: %(default)s)")
    parser.add_argument("--film", action="store_true",
                        help="wear the _bw twins like a film print (the colour stays clean)")
    parser.add_argument("--film-seed", type=int, default=0, help="seed of the film wear")
    parser.add_argument("--film-without", action="append", default=[], choices=WEAR_KINDS,
                        help="with --film, leave out this kind of wear (repeatable)")
    args = parser.parse_args()
    if args.film_without and not args.film:
        parser.error("--film-without only applies with --film")

    from vidcolor.demo.twins import bw_frame
    from vidcolor.film import FilmWear, film_frame
    from vidcolor.video.decode import iter_frames
    from vidcolor.video.probe import probe
    from vidcolor.video.writer import VideoWriter

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
    wear = FilmWear().without(*args.film_without) if args.film else None

    def twin(index: int, rgb: np.ndarray) -> np.ndarray:
        grey = bw_frame(rgb, grey=args.grey)
        return grey if wear is None else film_frame(grey, index, args.film_seed, wear)

    bounds = np.linspace(0, len(frames), args.parts + 1).round().astype(int)
    for part in range(args.parts):
        first = int(bounds[part])
        chunk = frames[first:bounds[part + 1]]
        for suffix, convert in (("", None), ("_bw", twin)):
            path = args.outdir / f"part{part + 1}{suffix}.mkv"
            with VideoWriter(path, info.frame_rate, width, height,
                             time_base=info.time_base) as writer:
                for offset, (pts, rgb) in enumerate(chunk):
                    writer.write(rgb if convert is None else convert(first + offset, rgb),
                                 pts=pts)
        print(f"part{part + 1}: frames {bounds[part]}-{bounds[part + 1] - 1} "
              f"({len(chunk)}) -> {args.outdir}/part{part + 1}.mkv (+ _bw, {args.grey}"
              f"{', film print' if wear else ''})")


if __name__ == "__main__":
    main()
