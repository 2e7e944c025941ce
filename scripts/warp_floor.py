"""The lowest warp error a colouriser can reach on a grey twin: the truth's own colours on it.

Takes the grey input's L, the colour original's ab at each frame (the perfect prediction),
combines them with :func:`vidcolor.color.lab_to_rgb_uint8` and encodes them as render does
(:class:`vidcolor.video.VideoWriter`, H.264), then scores that video beside the truth with
:func:`vidcolor.evaluate.evaluate_results` (the figures of ``vidcolor evaluate``). Its warp
error is the floor set by the grey twin's lightness and a second encode: the target for a
render's warp error, rather than the truth's own value.

    python scripts/warp_floor.py demo-run/demo/episode01_bw.mkv demo-run/demo/episode01.mkv

``--crf N`` encodes at another quality (as ``vidcolor render --crf N``); ``--truth-light`` takes
the truth's own L instead of the grey input's, i.e. the truth itself encoded once more: the
floor of any render that is encoded again at all.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vidcolor.color import lab_to_rgb_uint8, lightness, rgb_to_lab_frame
from vidcolor.evaluate import evaluate_results
from vidcolor.video import VideoWriter, iter_frames, probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("grey", type=Path, help="the grey input")
    parser.add_argument("truth", type=Path, help="its colour original")
    parser.add_argument("--crf", type=int, default=18, help="x264 quality, as render --crf")
    parser.add_argument("--truth-light", action="store_true",
                        help="the truth's L instead of the grey input's")
    args = parser.parse_args()
    info = probe(args.grey)
    with tempfile.TemporaryDirectory() as work:
        ideal = Path(work) / "ideal.mkv"
        with VideoWriter(ideal, info.frame_rate, info.width, info.height,
                         time_base=info.time_base, crf=args.crf) as writer:
            for grey, truth in zip(iter_frames(args.grey), iter_frames(args.truth), strict=True):
                ab = rgb_to_lab_frame(truth.rgb)[..., 1:]
                light = lightness(truth.rgb if args.truth_light else grey.rgb)
                writer.write(lab_to_rgb_uint8(light, ab), grey.pts)
        metrics = evaluate_results([ideal], args.truth)["metrics"]
    for name in ("ideal.mkv", "truth", "grey"):
        row = metrics[name]
        print(f"{name:10s} warp error {row['warp_error']:.3g}  PSNR {row['psnr']}  "
              f"RMSE αβ {row['ab_rmse']:.4g}  colourfulness {row['colourfulness']:.4g}")


if __name__ == "__main__":
    main()
