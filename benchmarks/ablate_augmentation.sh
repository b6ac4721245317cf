#!/usr/bin/env bash
# Does the darkening + sensor-noise augmentation help? Trains `lite` twice from scratch with
# identical settings and seeds, with and without the augmentation (one CPU thread each, side by
# side, 24 minutes each), then evaluates both on the SICE validation pairs and on a darker, noisier
# copy of them (benchmarks/make_dark_pairs.py). Prints both tables.
#
#   benchmarks/ablate_augmentation.sh SICE_DIR WORK_DIR [MINUTES]
#
# SICE_DIR holds train/ and val/ (low/ + high/ each). The dark copy uses the trainer's own
# degradation model, so it favours the augmented arm: treat the dark figures as an upper bound.
set -euo pipefail
sice=$1
work=$2
minutes=${3:-24}
py=${PYTHON:-python}
mkdir -p "$work"
mkdir -p "$work/val10/low" "$work/val10/high"
i=0
for f in $(ls "$sice/val/low"); do  # every 4th validation pair, for the cheap per-epoch check
    if (( i % 4 == 0 )); then
        ln -sf "$sice/val/low/$f" "$work/val10/low/$f"
        ln -sf "$sice/val/high/$f" "$work/val10/high/$f"
    fi
    i=$((i + 1))
done
[ -d "$work/dark-val" ] || $py benchmarks/make_dark_pairs.py --src "$sice/val" --out "$work/dark-val"

for arm in aug noaug; do
    extra=()
    [ "$arm" = noaug ] && extra=(--no-augment)
    OMP_NUM_THREADS=1 $py -m trainer.cli --data "$sice/train" --val-data "$work/val10" --preset lite \
        --crop 128 --batch 8 --samples-per-epoch 432 --epochs 40 --schedule cosine --lr 5e-4 \
        --warmup-epochs 1 --scale-jitter 0.5 --device cpu --seed 0 --time-limit "$minutes" \
        "${extra[@]}" --out "$work/abl-$arm" > "$work/abl-$arm.log" 2>&1 &
done
wait

for arm in aug noaug; do
    for set in val dark-val; do
        data="$sice/val"
        [ "$set" = dark-val ] && data="$work/dark-val"
        echo "== $arm on $set"
        $py -m core.cli eval --data "$data" --weights "$work/abl-$arm/weights/last.safetensors" | tail -5
    done
done
