"""IDC: Dataset Condensation via Efficient Synthetic-Data Parameterization (Kim et al., ICML 2022).

The set stores ``ipc`` codes per class; multi-formation (``condense/data/decoders.py``, ``multiformation``)
decodes each into factor² training images, while condensing and wherever the set is evaluated or exported
(the set carries ``decoder = {"name": "multiformation", "factor", "pad"}``). ``idc_i`` is IDC-I: factor 1,
no multi-formation.

One iteration is one of the official ``condense.py`` outer iterations (``fix_iter`` 1): a fresh network, the
codes clamped to [0, 1] pixels, then ``inner_loop`` rounds of (for each class: the class's codes decoded,
at most ``batch_syn_max`` of them drawn, one siamese augmentation of the real class batch and them, the
distance (``metric``) between the conv-weight gradients of the real and the synthetic batch, one image
update) followed by ``net_epoch`` passes of ``n_data`` real images training the network (its own
augmentation and CutMix). Defaults per dataset are ``misc/reproduce.py``'s (``--reproduce``), the learning
rate of the images tuned as ``argument.py`` ``tune_lr_img`` does.

The official code keeps its codes in [0, 1] pixels and normalises inside the augmentation; here the images
are normalised (as every set of this package), which is the same computation: its gradient in pixels is
ours divided by the std, so SGD there equals SGD here with the gradient divided by std² (per channel;
:func:`pixel_metric_step`), its [0, 1] clamp is [(0 − mean)/std, (1 − mean)/std] here, its decoder's pad
0.5 is (0.5 − mean)/std. ``tests/test_idc.py`` checks all of it against the official code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import ceil

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.checks import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, UNIT
from ..core.errors import CondenseError
from ..core.settings import setting
from ..data.augment import apply, parse_strategy, sample_idc
from ..data.decoders import decode_class
from ..training.cutmix import draw_box, idc_mix_p, mixed_loss, paste
from .problem import Problem
from .spec import MethodSpec, MethodState, register_method

# misc/reproduce.py, per dataset (non-ImageNet): gradient distance, lr_img before tuning, n_data, and argument.py's
# tune_lr_img factor (size / imsize_base)²: imsize_base is 28 for MNIST only, 32 for every other dataset,
# FashionMNIST included (28 × 28 images), so FashionMNIST's rate is scaled by (28/32)².
REPRODUCE = {
    "cifar10": {"metric": "mse", "lr_img": 5e-3, "n_data": 2000, "size_ratio": 1.0},
    "cifar100": {"metric": "mse", "lr_img": 5e-3, "n_data": 2000, "size_ratio": 1.0},
    "svhn": {"metric": "mse", "lr_img": 5e-3, "n_data": 500, "size_ratio": 1.0},
    "mnist": {"metric": "l1", "lr_img": 1e-4, "n_data": 500, "size_ratio": 1.0},
    "fashionmnist": {"metric": "l1", "lr_img": 1e-4, "n_data": 500, "size_ratio": (28 / 32) ** 2},
}
# argument.py's defaults, for a dataset reproduce.py does not name
ARGUMENT_DEFAULTS = {"metric": "l1", "lr_img": 5e-3, "n_data": 500, "size_ratio": 1.0}


def _base(context) -> str:
    traits = context.get("traits")
    return traits.base if traits is not None else ""


def _reproduce(context) -> dict:
    return REPRODUCE.get(_base(context), ARGUMENT_DEFAULTS)


def _digit_factor(context, factor: int) -> bool:
    """reproduce.py's MNIST case with multi-formation: no cutout, no CutMix (neither helps there)."""
    return _base(context) == "mnist" and factor > 1


def _metric(value, context):
    return _reproduce(context)["metric"] if value is None else value


def _lr_img(value, context):
    return _reproduce(context)["lr_img"] if value is None else value


def tuned_lr(settings, base_dataset: str) -> float:
    """argument.py ``tune_lr_img``: the rate the images are updated with, lr_img × ipc / 10 × (size / imsize_base)²."""
    return settings.lr_img * settings.ipc / 10 * REPRODUCE.get(base_dataset, ARGUMENT_DEFAULTS)["size_ratio"]


def _n_data(value, context):
    return _reproduce(context)["n_data"] if value is None else value


def _mix_p(value, context):
    return idc_mix_p(_base(context)) if value is None else value


def _init(value, context):
    """argument.py: ``mix`` whenever the factor exceeds 1, else its default ``random``."""
    return ("mix" if context["settings"]["factor"] > 1 else "random") if value is None else value


def _strategy(value, context):
    if value is None:
        value = "color_crop" if _digit_factor(context, context["settings"]["factor"]) else "color_crop_cutout"
    parse_strategy(value)
    return value


def _mixup_net(value, context):
    return ("vanilla" if _digit_factor(context, context["settings"]["factor"]) else "cut") if value is None else value


FACTOR_HELP = "multi-formation factor: each stored image decodes into factor² images (1: IDC-I)"


@dataclass(frozen=True)
class IDCSettings:
    """argument.py with misc/reproduce.py for the non-ImageNet datasets (README: factor 2 for IDC)."""

    method: str
    ipc: int
    model: str = "convnet"
    # n_iter = niter · 100 // inner_loop = 2000 fresh networks (reproduce.py niter 2000), the official range(n_iter)
    iterations: int = setting(1999, "condensation iterations, each a fresh network (0..N are run: official 2000)", bounds=NON_NEGATIVE)
    factor: int = setting(2, FACTOR_HELP, bounds=AT_LEAST_ONE)
    lr_img: float = setting(None, "learning rate of the images in [0, 1] pixels (SGD, momentum 0.5), before argument.py's "
                            "tune_lr_img multiplies it by ipc/10 × (size/imsize_base)²", bounds=POSITIVE, resolve=_lr_img,
                            shown="by dataset (reproduce.py): cifar10/cifar100/svhn 5e-3, mnist/fashionmnist 1e-4, else 5e-3")  # fmt: skip
    metric: str = setting(None, "distance between the real and synthetic gradients", choices=("mse", "l1", "l1_mean", "cos"),
                          resolve=_metric, shown="by dataset (reproduce.py): cifar10/cifar100/svhn mse, mnist/fashionmnist l1, else l1")  # fmt: skip
    batch_real: int = setting(64, "real images per class per matching step", bounds=AT_LEAST_ONE)
    batch_syn_max: int = setting(
        128, "at most this many decoded images of a class per matching step (drawn at random)", bounds=AT_LEAST_ONE
    )
    inner_loop: int = setting(100, "matching rounds per network, each one image update per class and a network update", bounds=AT_LEAST_ONE)
    n_data: int = setting(None, "real images of each network update (0: the network is not trained)", bounds=NON_NEGATIVE,
                          resolve=_n_data, shown="by dataset (reproduce.py): cifar10/cifar100 2000, else 500")  # fmt: skip
    net_epoch: int = setting(1, "network updates (of n_data images each) per matching round", bounds=AT_LEAST_ONE)
    lr_net: float = setting(0.01, "learning rate of the network's training on real data (SGD)", bounds=POSITIVE)
    momentum_net: float = setting(0.9, "momentum of the network's training", bounds=UNIT)
    weight_decay_net: float = setting(5e-4, "weight decay of the network's training", bounds=NON_NEGATIVE)
    init: str = setting(None, "initial codes: random (the first ipc real images of each class), mix (factor² downsampled "
                        "real images tiled into each) or noise", choices=("random", "mix", "noise"), resolve=_init,
                        shown="mix for factor > 1, else random")  # fmt: skip
    strategy: str = setting(None, "siamese augmentation of the matching batches, in IDC's order", flag="augment", resolve=_strategy,
                            shown="color_crop_cutout; mnist with factor > 1: color_crop")  # fmt: skip
    mixup_net: str = setting(None, "cut: CutMix in the network updates (whose augmentation then drops cutout), or vanilla",
                             choices=("cut", "vanilla"), resolve=_mixup_net, shown="cut; mnist with factor > 1: vanilla")  # fmt: skip
    mix_p: float = setting(None, "probability of CutMix per batch", bounds=UNIT, resolve=_mix_p,
                           shown="cifar10/cifar100/svhn/mnist/fashionmnist 0.5, else 1.0")  # fmt: skip
    beta: float = setting(1.0, "CutMix's Beta(β, β) of the kept share", bounds=POSITIVE)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IDCISettings(IDCSettings):
    """IDC-I: IDC without multi-formation (README: ``-f 1``)."""

    factor: int = setting(1, FACTOR_HELP, bounds=AT_LEAST_ONE)


# ------------------------------------------------------------------------------------------------ the codes


def pixel_bounds(data, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(low, high, std) per channel, shaped (1, C, 1, 1): [0, 1] pixels in the normalised space, and the std."""
    mean = torch.as_tensor(data.mean, dtype=like.dtype, device=like.device).reshape(1, -1, 1, 1)
    std = torch.as_tensor(data.std, dtype=like.dtype, device=like.device).reshape(1, -1, 1, 1)
    return (0 - mean) / std, (1 - mean) / std, std


def decoder_of(settings, data) -> dict | None:
    """The set's decoder record: multi-formation with its factor and the official pad 0.5 in the normalised space."""
    if settings.factor == 1:
        return None
    pad = [(0.5 - m) / s for m, s in zip(data.mean, data.std)]
    return {"name": "multiformation", "factor": int(settings.factor), "pad": pad}


def tiled(images: Tensor, factor: int, size: int) -> Tensor:
    """Synthesizer.init 'mix': tile k of every code is the nearest-neighbour downsampling of image block k
    (blocks of n = len(images) // factor² images, tiles row-major, the first ``size % factor`` rows and
    columns one pixel larger)."""
    n = images.shape[0] // factor**2
    out = torch.empty((n, *images.shape[1:]), dtype=images.dtype, device=images.device)
    s, remained = size // factor, size % factor
    k, h_loc = 0, 0
    for i in range(factor):
        h_r = s + 1 if i < remained else s
        w_loc = 0
        for j in range(factor):
            w_r = s + 1 if j < remained else s
            out[:, :, h_loc : h_loc + h_r, w_loc : w_loc + w_r] = F.interpolate(images[k * n : (k + 1) * n], size=(h_r, w_r))
            w_loc += w_r
            k += 1
        h_loc += h_r
    return out


def real_per_class(settings) -> int:
    """How many real images of each class the initial codes take (the first ones, in dataset order): ipc, or
    ipc · factor² for ``mix``; none from noise."""
    if settings.init == "noise":
        return 0
    return settings.ipc * (settings.factor**2 if settings.init == "mix" else 1)


def initial_codes(data, settings, seed: int) -> tuple[Tensor, Tensor]:
    """Synthesizer.__init__ and .init: ``random`` takes the first ipc images of each class (the official loader's
    ``class_sample(c, ipc)``: in dataset order, no draw), ``mix`` the first ipc · factor² tiled, ``noise``
    clamp(N(0, 1) / 4 + 0.5, 0, 1) pixels; all from the raw training images (masks never apply here)."""
    from ..core.runtime import derive_seed, make_generator

    device = data.train_images.device
    labels = torch.arange(data.num_classes, device=device).repeat_interleave(settings.ipc)
    if settings.init == "noise":
        gen = make_generator(derive_seed(seed, -1))
        noise = torch.randn((labels.numel(), data.channel, *data.im_size), generator=gen).to(device)
        low, high, std = pixel_bounds(data, noise)
        mean = -low * std
        return ((torch.clamp(noise / 4 + 0.5, 0.0, 1.0) - mean) / std).clone(), labels
    need = real_per_class(settings)
    smallest = min(data.class_size(c) for c in range(data.num_classes))
    if need > smallest:
        raise CondenseError(
            f"--init {settings.init} takes {need} real images per class (ipc {settings.ipc}"
            f"{f' × factor² {settings.factor**2}' if settings.init == 'mix' else ''}) but the smallest class has "
            f"{smallest}; lower --ipc or --factor, or use --init noise"
        )
    images = []
    for c in range(data.num_classes):
        first = data.train_images[data.class_indices[c][:need]]
        images.append(tiled(first, settings.factor, data.im_size[0]) if settings.init == "mix" else first)
    return torch.cat(images).clone(), labels


def initial_sources(data, settings, images: Tensor) -> Tensor:
    """The training images ``initial_codes`` took (a bool per image): the first ipc (``random``) or ipc · factor²
    (``mix``, tiled: never an exact copy, so the default audit would miss them) of each class; ``noise`` none."""
    taken = torch.zeros(data.train_images.shape[0], dtype=torch.bool, device=data.train_images.device)
    need = real_per_class(settings)
    for c in range(data.num_classes):
        taken[data.class_indices[c][:need]] = True
    return taken


def _start(problem: Problem) -> None:
    """The images' rate as tune_lr_img makes it; the pixel bounds and the per-channel 1/std² of the update."""
    for group in problem.optimizer.param_groups:
        group["lr"] = tuned_lr(problem.settings, problem.data.traits.base)
    low, high, std = pixel_bounds(problem.data, problem.images)
    problem.learned["idc"] = {"low": low, "high": high, "pixel_metric": 1.0 / std**2}


def _save(problem: Problem) -> dict:
    return {"images": problem.images.detach().cpu(), "optimizer": problem.optimizer.state_dict()}


def _load(problem: Problem, saved: dict) -> None:
    with torch.no_grad():
        problem.images.copy_(saved["images"].to(problem.images.device))
    problem.optimizer.load_state_dict(saved["optimizer"])


STATE = MethodState(start=_start, save=_save, load=_load, export=lambda problem: {"decoder": decoder_of(problem.settings, problem.data)})


# -------------------------------------------------------------------------------------------- one iteration


def gradient_distance(g_real: Tensor, g_syn: Tensor, metric: str) -> Tensor:
    """condense.py ``dist``."""
    if metric == "mse":
        return (g_real - g_syn).pow(2).sum()
    if metric == "l1":
        return (g_real - g_syn).abs().sum()
    if metric == "l1_mean":
        return (g_real - g_syn).abs().reshape(g_real.shape[0], -1).mean(-1).sum()
    rows_real, rows_syn = g_real.reshape(g_real.shape[0], -1), g_syn.reshape(g_syn.shape[0], -1)
    return torch.sum(1 - torch.sum(rows_real * rows_syn, dim=-1) / (rows_real.norm(dim=-1) * rows_syn.norm(dim=-1) + 1e-6))


def matched(params) -> list[Tensor]:
    """condense.py ``matchloss`` with its defaults ``bias`` and ``fc`` False: the conv weights only (no 1-D
    tensor, no 2-D one)."""
    return [p for p in params if p.dim() > 2]


def match_loss(net_real, net_syn, params: list[Tensor], real: Tensor, syn: Tensor, label: int, metric: str) -> Tensor:
    """condense.py ``matchloss`` (``match grad``): the distance summed over the matched layers between the
    gradients of the cross-entropy on the real batch (detached) and on the synthetic batch (differentiable)."""
    target_real = torch.full((real.shape[0],), label, dtype=torch.long, device=real.device)
    g_real = torch.autograd.grad(F.cross_entropy(net_real(real), target_real), params)
    target_syn = torch.full((syn.shape[0],), label, dtype=torch.long, device=syn.device)
    g_syn = torch.autograd.grad(F.cross_entropy(net_syn(syn), target_syn), params, create_graph=True)
    return torch.stack([gradient_distance(r.detach(), s, metric) for r, s in zip(g_real, g_syn)]).sum()


def class_images(problem: Problem, c: int, generator: torch.Generator) -> Tensor:
    """Synthesizer.sample: class ``c``'s codes decoded, then at most ``batch_syn_max`` of them at random."""
    s = problem.settings
    images = decode_class(problem.images[problem.class_slice(c)], decoder_of(s, problem.data))
    if images.shape[0] > s.batch_syn_max > 0:
        keep = torch.randperm(images.shape[0], generator=generator, device=generator.device)[: s.batch_syn_max]
        images = images[keep.to(images.device, non_blocking=True)]
    return images


def pixel_metric_step(problem: Problem, loss: Tensor) -> None:
    """One image update as the official SGD in [0, 1] pixels: the normalised gradient divided by std² per channel."""
    problem.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    problem.images.grad.mul_(problem.learned["idc"]["pixel_metric"])
    problem.optimizer.step()


def network_update(problem: Problem, net, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> None:
    """train.py ``train_epoch(..., n_data)`` on the real loader: batches of ``batch_real`` random training images
    until ``n_data`` are seen, each augmented per image (no gradient; cutout dropped under CutMix, as
    ``diffaug``'s ``aug_rand``) and, with probability ``mix_p``, CutMixed."""
    s, data = problem.settings, problem.data
    strategy = s.strategy
    if s.mixup_net == "cut":
        strategy = "_".join(name for name in parse_strategy(strategy) if name != "cutout") or "none"
    batches = ceil(s.n_data / s.batch_real)
    total = data.train_images.shape[0]
    order = torch.randperm(total, generator=generator, device=generator.device)[: batches * s.batch_real]
    order = order.to(data.train_images.device, non_blocking=True)
    net.train()
    for b in range(batches):
        idx = order[b * s.batch_real : (b + 1) * s.batch_real]
        if idx.numel() == 0:
            break
        x, y = data.images_at(idx, generator), data.train_labels[idx]
        with torch.no_grad():
            x = apply(x, sample_idc(strategy, x.shape[0], generator, x.device, per_image=True))
        box = draw_box(x, generator, s.beta, s.mix_p) if s.mixup_net == "cut" else None
        if box is not None:
            x = paste(x, box)
        loss = mixed_loss(net(problem.speed.layout(x)), y, box, x.shape[2], x.shape[3])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def idc_iteration(problem: Problem, generator: torch.Generator) -> Tensor:
    """One official outer iteration: a fresh network, the codes clamped to [0, 1] pixels, then ``inner_loop``
    rounds of one image update per class and a network update on real data."""
    s = problem.settings
    fast = problem.new_network()
    fast.eager.train()
    net_optimizer = torch.optim.SGD(fast.parameters(), lr=s.lr_net, momentum=s.momentum_net, weight_decay=s.weight_decay_net)
    params = matched(fast.parameters())
    bounds = problem.learned["idc"]
    with torch.no_grad():
        problem.images.copy_(torch.maximum(torch.minimum(problem.images, bounds["high"]), bounds["low"]))
    total = torch.zeros((), device=problem.images.device)
    for _ in range(s.inner_loop):
        for c in range(problem.num_classes):
            real = problem.data.sample_class(c, s.batch_real, generator)
            syn = class_images(problem, c, generator)
            both = apply(torch.cat([real, syn]), sample_idc(s.strategy, 1, generator, real.device, per_image=False))
            loss = match_loss(
                fast.forward, fast.eager, params, problem.speed.layout(both[: real.shape[0]]), both[real.shape[0] :], c, s.metric
            )
            pixel_metric_step(problem, loss)
            total += loss.detach()
        if s.n_data > 0:
            for _ in range(s.net_epoch):
                network_update(problem, fast.forward, net_optimizer, generator)
    return total / (problem.num_classes * s.inner_loop)


def real_images_per_iteration(settings, num_classes: int) -> int:
    return settings.inner_loop * (num_classes * settings.batch_real + settings.net_epoch * settings.n_data)


SUMMARY = "gradient matching of multi-formation-decoded images on networks trained on real data"
for _name, _label, _settings, _summary in (
    ("idc", "IDC", IDCSettings, SUMMARY),
    ("idc_i", "IDC-I", IDCISettings, "IDC without multi-formation (factor 1)"),
):
    register_method(
        MethodSpec(
            name=_name,
            label=_label,
            settings=_settings,
            step=idc_iteration,
            eval_augment="idc",
            loss_label="gradient distance (per class and matching round)",
            real_images_per_iteration=real_images_per_iteration,
            summary=_summary,
            state=STATE,
            produces=("decoder",),
            initial=initial_codes,
            init_sources=initial_sources,
        )
    )
