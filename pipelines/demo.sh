#!/usr/bin/env bash
# The whole vidcolor chain on the built-in demo series, in ./demo-run (about 13 min on 2 cores).
#   stage 1: demo-data      -> demo/episode0N.mkv (colour) + demo/episode0N_bw.mkv (grey twins)
#   stage 2: build-dataset  -> dataset/ (episode01 held out for testing) + dataset/series.json
#   stage 3: train          -> runs/residual (width 0.25: a CPU demo, not the thesis size)
#   stage 4: render         -> demo/episode01_bw.colorized.mkv (the defaults) and, in the same
#                              pass, a review video: grey | colourised | per-frame | truth
#   stage 5: evaluate       -> the table below and report/index.html
# Every stage skips or resumes work that is already done, so re-running continues.
# SEED=N trains another trajectory (default 0); scripts/bench_seeds.py runs several.
set -euo pipefail
WORK=${1:-demo-run}
EPOCHS=${EPOCHS:-20}
SEED=${SEED:-0}
mkdir -p "$WORK" && cd "$WORK"

[ -f demo/manifest.json ] || vidcolor demo-data demo
vidcolor build-dataset demo/episode0?.mkv
if [ -f runs/residual/latest.json ]; then resume=(--resume runs/residual); else resume=(); fi
vidcolor train --arch residual --width 0.25 --crop 128 --epochs "$EPOCHS" --lr-step 14 \
  --batch-size 16 --accumulate 3 --max-test-images 16 --seed "$SEED" "${resume[@]}"

# the defaults: region-growing regions in the series' palette, neutral ink, credit colours,
# temporal stabilisation; the review video (which shows the per-frame colours too) is made in
# the same pass
vidcolor render demo/episode01_bw.mkv -m runs/residual -o demo/episode01_bw.colorized.mkv \
  --review demo/episode01_review.mkv --truth demo/episode01.mkv
vidcolor evaluate demo/episode01_bw.colorized.mkv --truth demo/episode01.mkv -o report
cat <<EOF

done, in $WORK/:
  colourised episode   demo/episode01_bw.colorized.mkv
  review video         demo/episode01_review.mkv  (grey | colourised | per-frame | truth)
  report               report/index.html  (table, error curves, comparison sheet, per-frame plot)
EOF
