"""Losses: CLIP variants, prototype CE, triplet sampling, and the DP-safe per-example loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lanhar_fl.training.losses import (
    clip_loss,
    multi_positive_clip_loss,
    per_example_infonce_public,
    prototype_cross_entropy,
    prototype_distillation,
    sample_triplets,
    triplet_loss,
)


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_clip_loss_is_symmetric_infonce():
    a, b = _unit(5, 8), _unit(5, 8, seed=1)
    logits = a @ b.T / 0.1
    target = torch.arange(5)
    expected = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    torch.testing.assert_close(clip_loss(a, b, 0.1), expected)
    torch.testing.assert_close(clip_loss(a, b, lambda x: x * 10.0), expected)
    torch.testing.assert_close(clip_loss(a, b, 0.1, reduction="none").mean(), expected)


def _masked_infonce_rows(a: torch.Tensor, b: torch.Tensor, positives: list[set[int]],
                         tau: float) -> list[float]:
    """Row i's symmetric loss, spelled out: mean over i's positives j of -log softmax."""
    a, b = a.double(), b.double()
    rows = []
    for i, pos in enumerate(positives):
        a_to_b = torch.logsumexp(a[i] @ b.T / tau, 0) - (a[i] @ b.T / tau)
        b_to_a = torch.logsumexp(b[i] @ a.T / tau, 0) - (b[i] @ a.T / tau)
        rows.append(0.5 * float(sum(a_to_b[j] + b_to_a[j] for j in pos) / len(pos)))
    return rows


def test_duplicate_positives_are_not_negatives():
    """Items 0 and 1 share a text: under the mask each is the other's positive (target mass
    split between them), never a negative; rows 2 and 3 are untouched by the mask."""
    a = _unit(4, 8)
    b = torch.stack([a[0], a[0], a[2], a[3]])  # items 0 and 1 share a text
    groups = torch.tensor([0, 0, 1, 2])
    mask = groups[:, None] == groups[None, :]
    masked = clip_loss(a, b, 0.1, positive_mask=mask, reduction="none")
    plain = clip_loss(a, b, 0.1, reduction="none")
    expected = _masked_infonce_rows(a, b, [{0, 1}, {0, 1}, {2}, {3}], 0.1)
    torch.testing.assert_close(masked, torch.tensor(expected, dtype=masked.dtype),
                               atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(plain, torch.tensor(
        _masked_infonce_rows(a, b, [{0}, {1}, {2}, {3}], 0.1), dtype=plain.dtype),
        atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(masked[2:], plain[2:])
    assert (masked[:2] - plain[:2]).abs().min() > 0.5  # the mask changes exactly rows 0 and 1


def test_multi_positive_clip_targets_all_same_label_items():
    emb, labels = _unit(6, 8), torch.tensor([0, 0, 1, 1, 2, 2])
    protos = _unit(3, 8, seed=3)[labels]
    logits = emb @ protos.T / 0.1
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    expected = 0.5 * (-(target * logits.log_softmax(1)).sum(1).mean()
                      - (target * logits.T.log_softmax(1)).sum(1).mean())
    torch.testing.assert_close(multi_positive_clip_loss(emb, protos, labels, 0.1), expected)


def test_prototype_cross_entropy_and_triplet():
    emb, protos, labels = _unit(4, 8), _unit(3, 8, seed=2), torch.tensor([0, 1, 2, 0])
    torch.testing.assert_close(prototype_cross_entropy(emb, protos, labels, 30.0),
                               F.cross_entropy(30.0 * emb @ protos.T, labels))
    a = _unit(4, 8)
    assert triplet_loss(a, a, -a, margin=1.0) == 0  # d(a,p)=0, d(a,n)=2
    torch.testing.assert_close(triplet_loss(a, -a, a, margin=1.0), torch.tensor(3.0))


def test_sample_triplets_covers_every_anchor_once():
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    anchors, pos, neg = sample_triplets(labels, np.random.default_rng(0))
    assert sorted(anchors.tolist()) == list(range(len(labels)))
    assert (labels[pos] == labels[anchors]).all()
    assert (labels[neg] != labels[anchors]).all()
    singleton = labels[anchors] == 2
    assert (pos[singleton] == anchors[singleton]).all()
    assert (pos[~singleton] != anchors[~singleton]).all()
    again = sample_triplets(labels, np.random.default_rng(0))
    assert all((x == y).all() for x, y in zip(again, (anchors, pos, neg), strict=True))
    _, _, neg1 = sample_triplets(np.zeros(3, int), np.random.default_rng(0))
    assert (neg1 == -1).all()


def test_public_loss_masks_a_negative_equal_to_the_positive():
    s, pos = _unit(2, 8), _unit(2, 8, seed=1)
    negatives = torch.cat([_unit(3, 8, seed=2), pos[:1]])
    loss = per_example_infonce_public(s, pos, negatives, 0.1, reduction="none")
    expected0 = per_example_infonce_public(s[:1], pos[:1], negatives[:3], 0.1)
    torch.testing.assert_close(loss[0], expected0)


def _input_grads(loss_fn, sensor: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    sensor = sensor.clone().requires_grad_(True)
    loss_fn(F.normalize(sensor, dim=-1), F.normalize(text, dim=-1)).backward()
    return sensor.grad


@pytest.mark.parametrize("tensor_negatives", [False, True], ids=["shared", "per_example"])
def test_public_loss_gradient_of_example_i_ignores_example_j(tensor_negatives):
    """DP-SGD premise: example i's gradient is unchanged when example j's data changes."""
    negatives = _unit(6, 8, seed=5)
    if tensor_negatives:
        negatives = negatives.expand(4, -1, -1)
    sensor, text = torch.randn(4, 8), torch.randn(4, 8)
    changed_sensor, changed_text = sensor.clone(), text.clone()
    changed_sensor[3] += 5.0
    changed_text[3] = torch.randn(8)

    def public(s, t):
        return per_example_infonce_public(s, t, negatives, 0.1, reduction="sum")

    def in_batch(s, t):
        return clip_loss(s, t, 0.1, reduction="sum")

    g, g2 = _input_grads(public, sensor, text), _input_grads(public, changed_sensor, changed_text)
    torch.testing.assert_close(g[:3], g2[:3])
    h, h2 = (_input_grads(in_batch, sensor, text),
             _input_grads(in_batch, changed_sensor, changed_text))
    assert not torch.allclose(h[:3], h2[:3])  # in-batch negatives leak across examples


def test_prototype_distillation_is_per_example_and_follows_the_teacher():
    protos = _unit(3, 8, seed=7)
    sensor, raw = torch.randn(4, 8), torch.randn(4, 8)
    changed_sensor, changed_raw = sensor.clone(), raw.clone()
    changed_sensor[3] += 5.0
    changed_raw[3] = torch.randn(8)

    def distill(s, t):
        return prototype_distillation(s, protos.expand(4, -1, -1), t, protos, 0.1,
                                      reduction="sum")

    torch.testing.assert_close(_input_grads(distill, sensor, raw)[:3],
                               _input_grads(distill, changed_sensor, changed_raw)[:3])
    # a sensor vector on the teacher's favourite prototype scores lower than one elsewhere
    teacher_pick = protos[0].expand(1, -1)
    on = prototype_distillation(protos[:1], protos[None], teacher_pick, protos, 0.1)
    off = prototype_distillation(protos[1:2], protos[None], teacher_pick, protos, 0.1)
    assert on < off
