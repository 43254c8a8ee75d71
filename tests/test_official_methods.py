"""Our DataDAM step and DM's BatchNorm branch against the official code on identical tensors.

Needs the official checkouts (skipped without): ``CONDENSE_OFFICIAL_DIR`` = VICO-UoE/DatasetCondensation
(``main_DM.py``'s BN branch, its ``networks.py``), ``CONDENSE_DATADAM_DIR`` = DataDistillation/DataDAM
(``utils.get_attention``, its ``networks.ConvNet``). Only the functions and classes the checks need are
taken from the checkouts' files; the loss lines of ``main_DM.py`` / ``main_DataDAM.py`` are not
functions there, so each check restates them, line for line, on the official networks and functions.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_methods import make_problem

from condense.methods import METHODS


def checkout(variable: str, name: str) -> Path:
    folder = os.environ.get(variable)
    if not folder or not Path(folder, "networks.py").exists():
        pytest.skip(f"set {variable} to the {name} checkout to cross-check")
    return Path(folder)


def extract(path: Path, names: set[str], namespace: dict) -> dict:
    """Execute only the named top-level functions/classes of ``path`` (their module imports what we do not need)."""
    tree = ast.parse(path.read_text(), str(path))
    body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names]
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def copy_weights(ours: nn.Module, theirs: nn.Module) -> None:
    """Our body/classifier parameters and buffers into the official features/classifier, in order (same shapes)."""
    mine, other = list(ours.state_dict().values()), theirs.state_dict()
    assert len(mine) == len(other)
    theirs.load_state_dict({k: v.clone() for k, v in zip(other, mine)})


def run_step(problem, seed: int):
    """Our step under ``seed``: the loss it returns, the gradient it stepped with, the batches it drew."""
    before = problem.images.detach().clone()
    torch.manual_seed(seed)
    loss = float(METHODS.get(problem.settings.method).step(problem, torch.Generator().manual_seed(seed)))
    lr = problem.settings.lr_img
    return loss, (before - problem.images.detach()) / lr  # first SGD step: momentum buffer empty


def same_network(problem, convnet_class, norm: str, seed: int) -> nn.Module:
    """The official ConvNet with the weights of the network our step draws under ``seed``, frozen, train mode."""
    from condense.models.classifiers import build_model

    torch.manual_seed(seed)
    ours = build_model(problem.settings.model, problem.data.channel, problem.num_classes, problem.data.im_size)
    theirs = convnet_class(
        channel=1, num_classes=3, net_width=128, net_depth=3, net_act="relu", net_norm=norm, net_pooling="avgpooling", im_size=(28, 28)
    )
    copy_weights(ours, theirs)
    theirs.train()
    for p in theirs.parameters():
        p.requires_grad = False
    return theirs


def drawn_batches(problem, seed: int):
    """The real batches the step draws under ``seed`` (the same generator calls, no augmentation)."""
    gen = torch.Generator().manual_seed(seed)
    return [problem.data.sample_class(c, problem.settings.batch_real, gen) for c in range(problem.num_classes)]


def test_dm_batchnorm_equals_the_official_bn_branch(data_file):
    folder = checkout("CONDENSE_OFFICIAL_DIR", "VICO-UoE/DatasetCondensation")
    spec = importlib.util.spec_from_file_location("official_networks", folder / "networks.py")
    official = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(official)
    problem = make_problem(data_file, "dm", ipc=2, model="convnet_bn", strategy="none", lr_img=1.0)
    seed = 7
    theirs = same_network(problem, official.ConvNet, "batchnorm", seed)
    reals = drawn_batches(problem, seed)
    image_syn = problem.images.detach().clone().requires_grad_(True)
    # main_DM.py, the `else: # for ConvNetBN` branch, without DSA:
    images_real_all = torch.cat(reals, dim=0)
    images_syn_all = torch.cat([image_syn[c * 2 : (c + 1) * 2] for c in range(3)], dim=0)
    output_real = theirs.embed(images_real_all).detach()
    output_syn = theirs.embed(images_syn_all)
    loss = torch.sum((torch.mean(output_real.reshape(3, 8, -1), dim=1) - torch.mean(output_syn.reshape(3, 2, -1), dim=1)) ** 2)
    loss.backward()
    ours_loss, ours_grad = run_step(problem, seed)
    assert ours_loss == pytest.approx(float(loss.detach()) / 3, rel=1e-5)
    torch.testing.assert_close(ours_grad, image_syn.grad, rtol=1e-4, atol=1e-6)


def test_datadam_step_equals_the_official_loss_and_gradient(data_file):
    folder = checkout("CONDENSE_DATADAM_DIR", "DataDistillation/DataDAM")
    namespace = extract(folder / "networks.py", {"ConvNet", "Swish"}, {"torch": torch, "nn": nn, "F": F})
    get_attention = extract(folder / "utils.py", {"get_attention"}, {"torch": torch, "F": F})["get_attention"]
    problem = make_problem(data_file, "datadam", ipc=2, model="convnet", strategy="none", lr_img=1.0)  # 8 real per class
    seed = 5
    theirs = same_network(problem, namespace["ConvNet"], "instancenorm", seed)
    reals = drawn_batches(problem, seed)
    image_syn = problem.images.detach().clone().requires_grad_(True)
    # main_DataDAM.py: hooks on the ReLUs of `features`, the real then the synthetic forward, attention of every
    # layer but the last, 100 * MSE_B, plus 100 * task_balance * MSE_B of the outputs' first element (the embedding).
    activations = {}

    def get_activation(name):
        def hook(m, inp, op):
            activations[name] = op.clone()

        return hook

    hooks = [
        m.register_forward_hook(get_activation(f"ReLU_{i}")) for i, m in enumerate(x for x in theirs.features if isinstance(x, nn.ReLU))
    ]
    images_real_all = torch.cat(reals, dim=0)
    images_syn_all = torch.cat([image_syn[c * 2 : (c + 1) * 2] for c in range(3)], dim=0)
    output_real = theirs(images_real_all)[0].detach()
    real_acts = list(activations.values())
    activations = {}
    output_syn = theirs(images_syn_all)[0]
    syn_acts = list(activations.values())
    for h in hooks:
        h.remove()

    def mse_b(real, syn):
        return torch.sum((torch.mean(real.reshape(3, 8, -1), dim=1) - torch.mean(syn.reshape(3, 2, -1), dim=1)) ** 2)

    loss = torch.tensor(0.0)
    for layer in range(len(real_acts) - 1):
        loss = loss + 100 * mse_b(
            get_attention(real_acts[layer].detach(), param=1, exp=1, norm="l2"), get_attention(syn_acts[layer], param=1, exp=1, norm="l2")
        )
    loss = loss + 100 * 0.01 * mse_b(output_real, output_syn)
    loss.backward()
    ours_loss, ours_grad = run_step(problem, seed)
    assert len(real_acts) == 3
    assert ours_loss == pytest.approx(float(loss.detach()) / 3, rel=1e-5)
    torch.testing.assert_close(ours_grad, image_syn.grad, rtol=1e-4, atol=1e-7)
