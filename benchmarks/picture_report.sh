#!/usr/bin/env bash
# What a photographer notices, for one weights file: enhances SICE val (paired) and the unpaired real
# dark photos with the CLI at the default settings (or a given exposure / mode), then runs the team's
# picture report on each set. Prints one line per set, and one on 8x8 block visibility in its dark
# areas (benchmarks/blockiness_report.py).
#
#   benchmarks/picture_report.sh WEIGHTS DATA_DIR WORK_DIR [EV] [MODE]
#
# DATA_DIR is the shared data folder (SICE-brackets/, real-lowlight/); the report script is looked
# for at $PICTURE_REPORT, else DATA_DIR/../tools/picture_report.py. Outputs go to WORK_DIR/<set>/ as
# PNG (so JPEG loss does not enter the figures).
set -euo pipefail
weights=$1
data=$2
work=$3
ev=${4:-0}
mode=${5:-full}
lowlight=${LOWLIGHT:-lowlight}
py=${PYTHON:-python}
report=${PICTURE_REPORT:-$data/../tools/picture_report.py}
mkdir -p "$work"

run_set() {  # name input_dir [reference_dir]
    local name=$1 input=$2 ref=${3:-}
    local out="$work/$name"
    rm -rf "$out"
    $lowlight enhance "$input" -o "$out" --weights "$weights" --mode "$mode" --exposure="$ev" \
        --format png --suffix "" -q 2>>"$work/enhance.log"
    printf '%-16s ' "$name"
    if [ -n "$ref" ]; then $py "$report" "$out" "$input" "$ref"; else $py "$report" "$out" "$input"; fi
    printf '%-16s ' "  8x8 blocks"
    $py benchmarks/blockiness_report.py "$out" "$input"
}

echo "weights $weights, mode $mode, exposure $ev EV ($(lscpu | sed -n 's/^Model name: *//p'))"
run_set sice-val "$data/SICE-brackets/val/low" "$data/SICE-brackets/val/high"
run_set dicm "$data/real-lowlight/DICM"
mode=${ZERODCE_MODE:-$mode} run_set zerodce-real "$data/real-lowlight/ZeroDCEpp-real"
