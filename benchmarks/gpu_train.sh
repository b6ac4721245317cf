#!/bin/bash
# For a lent GPU machine (device tool): copy SICE-brackets to .device/data/SICE (carry .device),
# run this from the repo root; it probes throughput, then trains lite (with/without augmentation)
# and standard in the background. benchmarks/gpu_collect.sh copies their results to $OUT.
# Runs on the GPU machine: throughput probe, then three background training runs (setsid).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
python3 -c "import torch, cv2, safetensors, matplotlib; print('torch', torch.__version__, torch.cuda.get_device_name())"
nvidia-smi --query-gpu=name,memory.total --format=csv
mkdir -p /tmp/runs
python3 benchmarks/make_dark_pairs.py --src .device/data/SICE/val --out /tmp/darkval --seed 0
B=${BATCH:-32}; C=${CROP:-256}
python3 benchmarks/train_throughput.py --preset lite --crop $C --batch $B --device cuda --steps 15 --warmup 5 > /tmp/tp_lite.txt 2>&1 &
python3 benchmarks/train_throughput.py --preset lite --crop $C --batch $B --device cuda --steps 15 --warmup 5 > /tmp/tp_lite2.txt 2>&1 &
python3 benchmarks/train_throughput.py --preset standard --crop $C --batch $B --device cuda --steps 15 --warmup 5 > /tmp/tp_std.txt 2>&1 &
wait
cat /tmp/tp_lite.txt /tmp/tp_lite2.txt /tmp/tp_std.txt
BUDGET=${BUDGET:-1080}
epochs() {  # epochs that fit the budget at the measured concurrent rate, with ~6 s validation per epoch
  python3 - "$1" "$2" "$BUDGET" <<'PY'
import re, sys
rate = float(re.search(r"([\d.]+) crops/s", open(sys.argv[1]).read()).group(1))
samples, budget = int(sys.argv[2]), float(sys.argv[3])
print(max(4, int(budget / (samples / rate + 6))))
PY
}
S=${SAMPLES:-1716}
EL=$(epochs /tmp/tp_lite.txt $S); ES=$(epochs /tmp/tp_std.txt $S)
echo "epochs lite=$EL standard=$ES samples/epoch=$S"
common="--data .device/data/SICE --crop $C --batch $B --samples-per-epoch $S --schedule cosine --warmup-epochs 2 --device cuda --seed 0"
setsid nohup python3 -m trainer.cli $common --preset lite --lr 3e-4 --epochs $EL --out /tmp/runs/lite_aug > /tmp/runs/lite_aug.log 2>&1 < /dev/null &
setsid nohup python3 -m trainer.cli $common --preset lite --lr 3e-4 --epochs $EL --no-augment --out /tmp/runs/lite_noaug > /tmp/runs/lite_noaug.log 2>&1 < /dev/null &
setsid nohup python3 -m trainer.cli $common --preset standard --lr 2e-4 --epochs $ES --out /tmp/runs/standard_aug > /tmp/runs/standard_aug.log 2>&1 < /dev/null &
sleep ${WAIT:-100}
for f in /tmp/runs/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v "^  epoch" | tail -5; done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
