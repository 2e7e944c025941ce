#!/usr/bin/env bash
# The whole vidcolor chain on the built-in demo series, in ./demo-run (about 6-7 min on 2 cores).
#   stage 1: demo-data      -> demo/episode0N.mkv (colour) + demo/episode0N_bw.mkv (grey twins)
#   stage 2: build-dataset  -> dataset/ (episode01 held out for testing)
#   stage 3: train          -> runs/residual, runs/plain (small width: a CPU demo, not the thesis size)
#   stage 4: render         -> demo/episode01_bw.colorized.mkv (+ a side-by-side review video)
# Every stage skips or resumes work that is already done, so re-running continues.
set -euo pipefail
WORK=${1:-demo-run}
EPOCHS=${EPOCHS:-12}
mkdir -p "$WORK" && cd "$WORK"

[ -f demo/manifest.json ] || vidcolor demo-data demo
vidcolor build-dataset demo/episode0?.mkv
for arch in residual plain; do
  if [ -f "runs/$arch/latest.json" ]; then resume=(--resume "runs/$arch"); else resume=(); fi
  vidcolor train --arch "$arch" --width 0.125 --crop 64 --epochs "$EPOCHS" --lr-step 8 \
    --batch-size 16 --accumulate 3 --max-test-images 32 "${resume[@]}"
done
vidcolor render demo/episode01_bw.mkv --refine felzenszwalb --ensemble -o demo/episode01_bw.colorized.mkv
vidcolor render demo/episode01_bw.mkv --refine felzenszwalb --ensemble --side-by-side \
  --truth demo/episode01.mkv -o demo/episode01_review.mkv
vidcolor evaluate runs/residual runs/plain
echo "done: $WORK/demo/episode01_bw.colorized.mkv and $WORK/demo/episode01_review.mkv"
