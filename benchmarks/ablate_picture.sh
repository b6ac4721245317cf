#!/usr/bin/env bash
# One short fine-tune per part of the picture recipe, each without that part, against the full
# recipe: same seed, same start (the given weights), same crops. Each arm is then evaluated on
# SICE val at auto and on a darker, noisier copy (benchmarks/make_dark_pairs.py). Prints one line
# per arm (and keeps it in WORK_DIR/<arm>.result). Arms run one after another on one CPU thread
# each; JOBS=2 runs two at a time. ARMS="full no-jpeg" picks arms; finished arms are not rerun.
#
#   benchmarks/ablate_picture.sh SICE_DIR START_WEIGHTS WORK_DIR [EPOCHS] [CROPS_PER_EPOCH]
#
# Arms: full recipe, and the recipe --without each of jpeg, chroma-noise, banding, ev-jitter,
# true-exposure; plus no-colour-loss (--colour-weight 0), ignore-clipped (--ignore-clipped-targets),
# knee-LEVEL (--highlight-knee LEVEL), hue-SHARE (--shoulder-hue SHARE) and with-PART (--with PART, a trial part); A+B combines
# two, e.g. ARMS="full knee-0.7 knee-0.7+hue-0.5 with-colour-cast".
set -euo pipefail
sice=$1
start=$2
work=$3
epochs=${4:-2}
crops=${5:-432}
jobs=${JOBS:-1}
py=${PYTHON:-python}
lowlight=${LOWLIGHT:-lowlight}
mkdir -p "$work"
[ -d "$work/dark-val" ] || $py benchmarks/make_dark_pairs.py --src "$sice/val" --out "$work/dark-val"

read -r -a arms <<< "${ARMS:-full no-jpeg no-chroma-noise no-banding no-ev-jitter no-true-exposure no-colour-loss}"
eval_line() {
    $lowlight eval --data "$1" --weights "$2" | awk '$1 == "model" {printf "%s dB / %s  GT-mean %s  sat %s", $2, $3, $4, $5}'
}
run_arm() {
    local arm=$1 extra=() part
    [ -f "$work/$arm.result" ] && return 0
    IFS=+ read -r -a parts <<< "$arm"
    for part in "${parts[@]}"; do
        case $part in
            full) ;;
            no-colour-loss) extra+=(--colour-weight 0) ;;
            ignore-clipped) extra+=(--ignore-clipped-targets) ;;
            knee-*) extra+=(--highlight-knee "${part#knee-}") ;;
            hue-*) extra+=(--shoulder-hue "${part#hue-}") ;;
            no-*) extra+=(--without "${part#no-}") ;;
            with-*) extra+=(--with "${part#with-}") ;;
            *) echo "unknown arm $part" >&2; return 2 ;;
        esac
    done
    OMP_NUM_THREADS=1 $lowlight train --data "$sice" --preset lite --crop 128 --batch 8 \
        --samples-per-epoch "$crops" --epochs "$epochs" --schedule cosine --lr 3e-4 --scale-jitter 0.5 \
        --device cpu --seed 7 --ssim-weight 0.3 --init-weights "$start" "${extra[@]}" \
        --out "$work/$arm" --overwrite > "$work/$arm.log" 2>&1
    local w="$work/$arm/weights/last.safetensors"
    {
        printf '%-18s SICE val: %s   dark copy: %s\n' "$arm" \
            "$(OMP_NUM_THREADS=1 eval_line "$sice/val" "$w")" "$(OMP_NUM_THREADS=1 eval_line "$work/dark-val" "$w")"
    } > "$work/$arm.result.tmp" && mv "$work/$arm.result.tmp" "$work/$arm.result"
}
for ((i = 0; i < ${#arms[@]}; i += jobs)); do
    for ((j = i; j < i + jobs && j < ${#arms[@]}; j++)); do
        run_arm "${arms[j]}" &
    done
    wait
done
for arm in "${arms[@]}"; do
    [ -f "$work/$arm.result" ] && cat "$work/$arm.result"
done
