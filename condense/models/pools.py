"""Named pools of evaluation networks: the official code's ``get_eval_pool`` modes, for judging a set across
architectures (config ``eval.pool``; the workflow evaluates every set on ``eval.models`` and the pool's).

Each pool lists the networks the official mode names, in its order, by this package's names
(``condense.models.classifiers.MODELS``); a network the official code has and this package does not is
left out and said so beside the pool.
"""

from __future__ import annotations

from ..core.registry import Registry

EVAL_POOLS: Registry[tuple[str, ...]] = Registry("evaluation pool")

EVAL_POOLS.add("M", ("mlp", "convnet", "lenet", "alexnet", "vgg11", "resnet18"))  # multiple architectures (DC, DSA papers)
# multiple architectures with BatchNorm (DM experiments); the official ConvNetASwishBN is not here (no Swish ConvNet)
EVAL_POOLS.add("B", ("convnet_bn", "alexnet_bn", "vgg11_bn", "resnet18_bn"))
EVAL_POOLS.add("W", ("convnet_w32", "convnet_w64", "convnet", "convnet_w256"))  # network width (ConvNet is W128)
EVAL_POOLS.add("D", ("convnet_d1", "convnet_d2", "convnet", "convnet_d4"))  # network depth (ConvNet is D3)
