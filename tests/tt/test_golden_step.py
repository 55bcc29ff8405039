"""Golden mode: a whole training step (forward, loss, backward, AdamW) of a 2-layer
Llama-style model on the tt backend against the reference backend, and the promise
that a step moves no data between host and device beyond the batch and the loss."""

from __future__ import annotations

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

import ttcustom as tc  # noqa: E402
from tests.tt.cases import pcc  # noqa: E402
from tests.tt.tiny_llama import TinyLlama  # noqa: E402
from ttcustom.data import Collator, Example  # noqa: E402
from ttcustom.optim import AdamW  # noqa: E402

pytestmark = pytest.mark.tt


def _batch(seq: int = 20) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 100, (2, seq), generator=g)
    labels = ids.clone()
    labels[0, :4] = -100  # a prompt the loss ignores
    return {"input_ids": ids, "labels": labels}


def _upload(batch, backend):
    return {k: tc.tensor(v, backend=backend) for k, v in batch.items()}


def _step(backend, dtype, batch):
    """(loss, grads, updated params) of one AdamW step from a seeded initialisation."""
    tc.manual_seed(0)
    model = TinyLlama(device=backend, dtype=dtype)
    optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    loss = model(**_upload(batch, backend))
    loss.backward()
    grads = {n: p.grad.to_torch().float() for n, p in model.named_parameters()}
    optimizer.step()
    params = {n: p.to_torch().float() for n, p in model.named_parameters()}
    return loss.item(), grads, params


def test_float32_step_matches_reference(golden_backend, reference_backend):
    loss, grads, params = _step(golden_backend, torch.float32, _batch())
    ref_loss, ref_grads, ref_params = _step(reference_backend, torch.float32, _batch())
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    # AdamW's first step moves each weight by about lr * g / (|g| + eps): a gradient
    # element near eps turns float32 rounding into a few percent of lr (atol 5e-5).
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-3, atol=1e-5,
                                   msg=lambda m, n=name: f"grad of {n}: {m}")
        torch.testing.assert_close(params[name], ref_params[name], rtol=1e-4, atol=5e-5,
                                   msg=lambda m, n=name: f"{n} after AdamW: {m}")


def test_bfloat16_step_tracks_reference(golden_backend, reference_backend):
    loss, grads, params = _step(golden_backend, torch.bfloat16, _batch())
    ref_loss, ref_grads, _ = _step(reference_backend, torch.bfloat16, _batch())
    assert loss == pytest.approx(ref_loss, rel=2e-2)
    for name in grads:
        assert pcc(grads[name], ref_grads[name]) > 0.99, name


def test_tile_padded_batch_gives_the_unpadded_step(golden_backend, reference_backend):
    """Padding S=20 to 32 at the boundary (the collator's pad_to): padded keys masked by attention_mask, padded
    tokens ignored by the loss; loss and gradients are those of the unpadded batch."""
    rows = _batch()
    examples = [Example(ids.tolist(), labels.tolist())
                for ids, labels in zip(rows["input_ids"], rows["labels"])]
    padded = Collator(pad_to=32)(examples)  # the recipe's tile padding (fixed_length)
    assert padded.input_ids.shape == (2, 32)
    inputs = {k: padded[k] for k in ("input_ids", "labels", "attention_mask")}
    loss, grads, _ = _step(golden_backend, torch.float32, inputs)
    ref_loss, ref_grads, _ = _step(reference_backend, torch.float32, _batch())
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-3, atol=1e-5)


def test_the_recipe_pads_every_tt_batch_to_one_tile_multiple(golden_backend):
    """On tt every batch has one width (the longest example rounded up to 32 tokens), so
    a run compiles its device programs for one shape."""
    from ttcustom.train.recipe import Datasets, build_collator

    train = [Example(list(range(1, n + 1)), list(range(1, n + 1))) for n in (3, 40, 7)]
    datasets = Datasets(train, [Example([1, 2], [1, 2])], "raw")
    collate = build_collator(None, datasets, golden_backend)
    assert {collate([ex]).input_ids.shape for ex in train} == {(1, 64)}


def test_training_step_stays_on_device(golden_backend):
    """Batch upload and one loss read-back are the only host<->device transfers."""
    tc.manual_seed(0)
    model = TinyLlama(device=golden_backend, dtype=torch.bfloat16)
    optimizer = AdamW(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss = model(**_upload(_batch(), golden_backend))
        loss.backward()
        optimizer.step()
        return loss.item()

    step()  # first step: optimizer state and device constants are created (on device)
    golden_backend.transfers.reset()
    step()
    assert golden_backend.transfers.uploads == 2  # input_ids, labels
    assert golden_backend.transfers.downloads == 1  # the loss


def test_scalars_stay_one_tile_on_the_device(golden_backend):
    """ttnn rejects rank-0 tensors in reshape/repeat/expand: the loss (shape ()) is one
    [1, 1] tile on the device, and a step hands ttnn no rank-0 tensor."""
    from tests.tt.golden import _tensors
    from ttcustom.backends.tt.backend import Scalar

    seen = []
    harness = golden_backend.ttnn
    real = harness.resolve

    def resolve(name):
        op = real(name)
        if not hasattr(op, "real"):  # not an op: enums, classes
            return op

        def call(*args, **kwargs):
            seen.extend(t for t in _tensors(args, kwargs) if t.value.dim() == 0)
            return op(*args, **kwargs)
        return call

    harness.resolve = resolve
    tc.manual_seed(0)
    model = TinyLlama(device=golden_backend, dtype=torch.bfloat16)
    loss = model(**_upload(_batch(), golden_backend))
    loss.backward()
    AdamW(model.parameters(), lr=1e-3).step()
    assert loss.shape == () and isinstance(loss.data, Scalar)
    assert tuple(loss.data.tile.shape) == (1, 1) and loss.item() > 0
    assert not seen
