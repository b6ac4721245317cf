#!/bin/bash
# Runs on the GPU machine: waits, then copies logs, metrics and weights of every run to $OUT.
set -u
sleep ${WAIT:-0}
for d in /tmp/runs/*/; do
  n=$(basename $d)
  echo "== $n"; tr '\r' '\n' < /tmp/runs/$n.log | grep -v "^  epoch" | tail -4
  mkdir -p $OUT/$n
  cp $d/metrics.json $OUT/$n/ 2>/dev/null
  if [ -f $d/weights/best.safetensors ]; then split -b 15M $d/weights/best.safetensors $OUT/$n/best.safetensors.part.; fi
done
ls -la $OUT/*
