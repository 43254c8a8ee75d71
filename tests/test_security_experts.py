"""The parts of a resumable artifact (MTT's experts in ``condense artifact --checkpoint-dir``) and the artifact's digest."""

from __future__ import annotations

import torch


def test_the_digest_of_a_one_element_view_is_that_of_its_values():
    from condense.core.digests import content_digest

    column = torch.arange(6.0).reshape(1, 6)[:, 0]  # shape (1,), stride (6,): what one epoch's train_loss is
    assert content_digest(column) == content_digest(torch.tensor([0.0]))
