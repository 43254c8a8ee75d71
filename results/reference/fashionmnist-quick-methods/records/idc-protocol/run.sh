#!/bin/bash
# The quick-methods IDC and random sets under IDC's own evaluation protocol (condense evaluate --augment idc:
# 1000 epochs, DSA without cutout, CutMix, batch 64), 2 ConvNets, 200 test images per class, seed 0.
cd /work/runs/quick-methods
export PYTHONPATH=/work/runs/code-cb8e562
R=results/quick-methods/fashionmnist
for s in idc_ipc1 random_ipc1 random_ipc10 idc_ipc10; do
  while [ ! -f $R/sets/${s}_seed0.pt ]; do sleep 30; done
  [ -f idc-protocol/${s}_seed0.json ] && continue
  /usr/bin/time -f "%e s wall" /work/main/.venv/bin/python -m condense evaluate --data $R/data.pt --set $R/sets/${s}_seed0.pt \
    --model convnet --num-nets 2 --augment idc --test-per-class 200 --seed 0 --threads 1 --quiet \
    --log idc-protocol/${s}_seed0.log --out idc-protocol/${s}_seed0.json
done
