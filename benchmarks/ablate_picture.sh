#!/usr/bin/env bash
# One short fine-tune per part of the picture recipe, each without that part, against the full
# recipe: same seed, same start (the given weights), same crops. Each arm is then evaluated on
# SICE val at auto and on a darker, noisier copy (benchmarks/make_dark_pairs.py). Prints one line
# per arm. Two arms run side by side on one CPU thread each.
#
#   benchmarks/ablate_picture.sh SICE_DIR START_WEIGHTS WORK_DIR [EPOCHS] [CROPS_PER_EPOCH]
#
# Arms: full recipe, and the recipe --without each of jpeg, chroma-noise, banding, ev-jitter,
# true-exposure; plus --colour-weight 0 (no chroma loss).
set -euo pipefail
sice=$1
start=$2
work=$3
epochs=${4:-2}
crops=${5:-432}
py=${PYTHON:-python}
lowlight=${LOWLIGHT:-lowlight}
mkdir -p "$work"
[ -d "$work/dark-val" ] || $py benchmarks/make_dark_pairs.py --src "$sice/val" --out "$work/dark-val"

arms=(full no-jpeg no-chroma-noise no-banding no-ev-jitter no-true-exposure no-colour-loss)
run_arm() {
    local arm=$1 extra=()
    case $arm in
        full) ;;
        no-colour-loss) extra=(--colour-weight 0) ;;
        no-*) extra=(--without "${arm#no-}") ;;
    esac
    OMP_NUM_THREADS=1 $lowlight train --data "$sice" --preset lite --crop 128 --batch 8 \
        --samples-per-epoch "$crops" --epochs "$epochs" --schedule cosine --lr 3e-4 --scale-jitter 0.5 \
        --device cpu --seed 7 --ssim-weight 0.3 --init-weights "$start" "${extra[@]}" \
        --out "$work/$arm" --overwrite > "$work/$arm.log" 2>&1
}
for ((i = 0; i < ${#arms[@]}; i += 2)); do
    run_arm "${arms[i]}" &
    [ -n "${arms[i + 1]:-}" ] && run_arm "${arms[i + 1]}" &
    wait
done
for arm in "${arms[@]}"; do
    w="$work/$arm/weights/best.safetensors"
    [ -f "$work/$arm/weights/best.safetensors" ] || continue
    printf '%-18s SICE val: ' "$arm"
    $lowlight eval --data "$sice/val" --weights "$w" | awk '$1 == "model" {printf "%s dB / %s  GT-mean %s  sat %s", $2, $3, $4, $5}'
    printf '   dark copy: '
    $lowlight eval --data "$work/dark-val" --weights "$w" | awk '$1 == "model" {printf "%s dB / %s  GT-mean %s  sat %s\n", $2, $3, $4, $5}'
done
