"""The lowest warp error a colouriser can reach on a grey twin: the truth's own colours on it.

Takes the grey input, the colour original's ab at each frame (the perfect prediction),
solves them onto the input's grey under the grey model the twin was made with
(:func:`vidcolor.color.grey.colour_on_grey`, render's own composition) and encodes them as
render does (:class:`vidcolor.video.writer.VideoWriter`, H.264), then scores that video beside
the truth with :func:`vidcolor.evaluation.results.evaluate_results` (the figures of ``vidcolor
evaluate``). Its warp error is the floor set by the grey twin's lightness and a second encode:
the target for a render's warp error, rather than the truth's own value.

    python scripts/warp_floor.py demo-run/demo/episode01_bw.mkv demo-run/demo/episode01.mkv

``--grey MODEL`` names the twin's grey model (``luminance``, the default, ``bt601``, ``bt709``;
as ``vidcolor render --grey``): the ceiling of a render under that model; ``--grey-pair COLOUR
BW`` fits the model from another pair first (as ``vidcolor build-dataset --grey-pair``).
``--crf N`` encodes at another quality (as ``vidcolor render --crf N``); ``--truth-light``
takes the truth's own L instead of the grey input's, i.e. the truth itself encoded once more:
the floor of any render that is encoded again at all.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vidcolor.color.frames import lightness, rgb_to_lab_frame
from vidcolor.color.grey import GREY_MODELS, colour_on_grey
from vidcolor.evaluation.results import evaluate_results
from vidcolor.greyfit import fit_grey_pair
from vidcolor.video.decode import iter_frames
from vidcolor.video.probe import probe
from vidcolor.video.writer import VideoWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("grey", type=Path, help="the grey input")
    parser.add_argument("truth", type=Path, help="its colour original")
    parser.add_argument("--crf", type=int, default=18, help="x264 quality, as render --crf")
    parser.add_argument("--grey", dest="grey_model", choices=GREY_MODELS, default=GREY_MODELS[0],
                        help="the twin's grey model, as render --grey (default: luminance)")
    parser.add_argument("--truth-light", action="store_true",
                        help="the truth's L instead of the grey input's")
    parser.add_argument("--grey-pair", nargs=2, type=Path, metavar=("COLOUR", "BW"),
                        help="fit the grey model from this pair instead (as build-dataset)")
    args = parser.parse_args()
    model = args.grey_model
    if args.grey_pair:
        fit = fit_grey_pair(*args.grey_pair)
        model = fit.model
        print(f"fitted: {model.describe()}, residual {fit.residual:.2f} levels, offset "
              f"{fit.offset}, framing {fit.framing.describe()}")
    info = probe(args.grey)
    with tempfile.TemporaryDirectory() as work:
        ideal = Path(work) / "ideal.mkv"
        with VideoWriter(ideal, info.frame_rate, info.width, info.height,
                         time_base=info.time_base, crf=args.crf) as writer:
            for grey, truth in zip(iter_frames(args.grey), iter_frames(args.truth), strict=True):
                ab = rgb_to_lab_frame(truth.rgb)[..., 1:]
                light = lightness(truth.rgb if args.truth_light else grey.rgb)
                writer.write(colour_on_grey(light, ab, model), grey.pts)
        metrics = evaluate_results([ideal], args.truth)["metrics"]
    for name in ("ideal.mkv", "truth", "grey"):
        row = metrics[name]
        print(f"{name:10s} warp error {row['warp_error']:.3g}  PSNR {row['psnr']}  "
              f"RMSE αβ {row['ab_rmse']:.4g}  colourfulness {row['colourfulness']:.4g}")


if __name__ == "__main__":
    main()
