#!/bin/bash
# The published FashionMNIST IPC 1 cells (DC 70.5 ± 0.6, DSA 70.6 ± 0.6; docs/published-numbers.md) end to end
# on a lent GPU, with the reference protocol's exact commands (the ones `snakemake -n -p` prints for
# config/fmnist-reference.yaml), 1000 iterations and 10 evaluation networks each.
#   device run, carry ["data/fmnist-mirror"] (the four .gz files of /usr/share/datasets/fashion-mnist):
#       bash benchmarks/gpu_reference_cell.sh "$OUT"            (DC and DSA, about 3 minutes of an H200)
#       bash benchmarks/gpu_reference_cell.sh "$OUT" baselines  (random and herding at IPC 1/10/50 and the
#                                                              whole-data ConvNet of 50 epochs that herding embeds with)
set -u
out=${1:?usage: gpu_reference_cell.sh OUTDIR [baselines]}
what=${2:-methods}
mkdir -p "$out"
r=/tmp/ref
source benchmarks/device_steps.sh  # py, PYTHONPATH, step(), the GPU line of summary.txt
step download 60 $py -m condense download --dataset fashionmnist --root $r/data --mirror data/fmnist-mirror --out $r/data.pt
evaluate() {  # evaluate NAME SET: the reference evaluation of a set without augmentation (300 epochs, 10 nets)
    step evaluate_$1 80 $py -m condense evaluate --data $r/data.pt --set $2 --model convnet --num-nets 10 --epochs 300 \
        --augment none --batch-size 256 --seed 0 --test-per-class 0 --device auto --out $out/$1_convnet.json
}
if [ "$what" = baselines ]; then
    for ipc in 1 10 50; do
        step coreset_random_ipc$ipc 30 $py -m condense coreset --method random --data $r/data.pt --ipc $ipc --seed 0 --device auto \
            --out $r/random_ipc${ipc}_seed0.pt
        evaluate random_ipc${ipc}_seed0 $r/random_ipc${ipc}_seed0.pt
    done
    step full_baseline 150 $py -m condense full-baseline --data $r/data.pt --model convnet --epochs 50 --per-class 0 --augment none \
        --seed 0 --device auto --out-model $r/full_convnet_seed0.pt --out $out/full_convnet_seed0.json
    step herding_order 60 $py -m condense herding-order --data $r/data.pt --embed-model $r/full_convnet_seed0.pt --ipc 50 \
        --device auto --out $r/herding_order.pt
    for ipc in 1 10 50; do
        step coreset_herding_ipc$ipc 30 $py -m condense coreset --method herding --data $r/data.pt --ipc $ipc --seed 0 \
            --order $r/herding_order.pt --device auto --out $r/herding_ipc${ipc}_seed0.pt
        evaluate herding_ipc${ipc}_seed0 $r/herding_ipc${ipc}_seed0.pt
    done
    exit 0
fi
for m in dc dsa; do
    if [ $m = dc ]; then a="--init noise --augment none"; e="--epochs 300 --augment none"; else a="--init real --augment dsa"; e="--epochs 1000 --augment dsa"; fi
    step distill_$m 150 $py -m condense distill --method $m --data $r/data.pt --ipc 1 --model convnet --iterations 1000 \
        --lr-img 0.1 --lr-net 0.01 --batch-real 256 --batch-train 256 $a --dis-metric ours --seed 0 \
        --checkpoint $r/$m.ckpt --checkpoint-every 100 --log-every 100 --device auto --out $out/${m}_ipc1_seed0.pt
    step evaluate_$m 80 $py -m condense evaluate --data $r/data.pt --set $out/${m}_ipc1_seed0.pt --model convnet \
        --num-nets 10 $e --batch-size 256 --seed 0 --test-per-class 0 --device auto --out $out/${m}_ipc1_seed0_convnet.json
done
