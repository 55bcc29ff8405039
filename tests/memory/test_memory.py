"""Memory: what the autograd graph keeps alive, and the planner's estimate of it."""

from __future__ import annotations

import gc
import json
import math
import weakref

import pytest
import torch
import transformers
from torch.profiler import ProfilerActivity, profile

import ttcustom as tc
import ttcustom.functional as F
from benchmarks.memory_probe import measure_peak, probe, tensor_peak
from benchmarks.tiny_llama import Shape
from benchmarks.workloads import Lora, Workload
from ttcustom.autograd.function import AccumulateGrad
from ttcustom.backends.shapes import ShapeBackend
from ttcustom.cli import main as cli_main
from ttcustom.lora import apply_lora
from ttcustom.memory import (
    SYSTEMS,
    USABLE_FRACTION,
    LoraSpec,
    System,
    largest_batch,
    parameter_count,
    plan,
)
from ttcustom.models import ModelConfig, build_model


def _is_freed_after_forward(weight_requires_grad: bool) -> bool:
    leaf = tc.randn(4, 8, requires_grad=True)
    x = leaf * 2.0  # an activation: only the graph can keep it alive
    weight = tc.randn(3, 8, requires_grad=weight_requires_grad)
    out = F.linear(x, weight)
    probe = weakref.ref(x.data)
    del x
    gc.collect()
    freed = probe() is None
    out.sum().backward()
    return freed


def test_frozen_linear_frees_its_input_like_torch():
    assert _is_freed_after_forward(weight_requires_grad=False)
    assert not _is_freed_after_forward(weight_requires_grad=True)


def test_a_dropped_leaf_is_freed_without_the_garbage_collector():
    gc.disable()  # only reference counting: a reference cycle would keep the leaf alive
    try:
        leaf = tc.randn(4, 8, requires_grad=True)
        (leaf * 2.0).sum().backward()
        probe = weakref.ref(leaf.data)
        del leaf
        assert probe() is None
    finally:
        gc.enable()


def test_cross_entropy_backward_allocates_one_logits_sized_buffer():
    logits = tc.randn(256, 1000, requires_grad=True)
    loss = F.cross_entropy(logits, tc.tensor(torch.randint(0, 1000, (256,))))
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        loss.backward()
    assert tensor_peak(prof) < 1.1 * 256 * 1000 * 4  # the gradient itself, in fp32


def test_adamw_step_on_cpu_needs_one_parameter_sized_temporary():
    params = [tc.randn(512, 1024, requires_grad=True) for _ in range(8)]
    for p in params:
        p.grad = tc.randn(512, 1024)
    opt = tc.optim.AdamW(params)
    opt.step()  # creates the state
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        opt.step()
    assert tensor_peak(prof) < 1.1 * 512 * 1024 * 4  # not 8 parameters' worth


def test_frozen_linear_still_passes_the_input_gradient():
    x = torch.randn(4, 8)
    weight = torch.randn(3, 8)
    ours = tc.tensor(x, requires_grad=True)
    F.linear(ours, tc.tensor(weight)).sum().backward()
    ref = x.clone().requires_grad_()
    torch.nn.functional.linear(ref, weight).sum().backward()
    torch.testing.assert_close(ours.grad.to_torch(), ref.grad)


# ---------------------------------------------------------------------- the planner
FAMILIES = ["llama", "qwen2", "qwen3", "gpt2"]


def _config(model_type: str, **changes) -> ModelConfig:
    fields = dict(model_type=model_type, vocab_size=320, hidden_size=64, intermediate_size=160,
                  num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4 if model_type == "gpt2" else 2, hidden_dropout=0.0,
                  embedding_dropout=0.0, attention_dropout=0.0, max_position_embeddings=128)
    return ModelConfig(**(fields | changes))


@pytest.mark.parametrize("model_type", FAMILIES)
def test_parameter_count_matches_transformers(model_type):
    config = _config(model_type, num_hidden_layers=3)  # counted from a one-block model
    hf_config = transformers.AutoConfig.for_model(**config.to_hf_dict())
    reference = transformers.AutoModelForCausalLM.from_config(hf_config).num_parameters()
    assert parameter_count(config) == reference


@pytest.mark.parametrize("model_type,targets", [("llama", ("q_proj", "v_proj")),
                                                ("qwen3", "all-linear"), ("gpt2", ("c_attn",))])
def test_lora_parameter_count_matches_apply_lora(model_type, targets):
    config = _config(model_type)
    model = apply_lora(build_model(config), r=4, target_modules=targets)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert plan(config, 1, 16, lora=LoraSpec(4, targets)).trainable_parameters == trainable


def _flat(saved: tuple) -> list:
    """Saved arrays, with the tuples an op keeps (the LoRA op's `saved`) opened."""
    return [a for item in saved
            for a in (_flat(item) if isinstance(item, tuple) else (item,))]


def _saved_activation_bytes(loss: tc.Tensor, model: tc.nn.Module) -> int:
    """Bytes of the distinct storages the graph saved for backward, weights excluded."""
    weights = {t.data.untyped_storage().data_ptr()
               for t in [*model.parameters(), *model.buffers()]}
    storages, seen, stack = {}, set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or isinstance(node, AccumulateGrad):
            continue
        seen.add(id(node))
        for array in _flat(node.saved or ()):
            if isinstance(array, torch.Tensor):
                storage = array.untyped_storage()
                if storage.data_ptr() not in weights:
                    storages[storage.data_ptr()] = storage.nbytes()
        stack.extend(node.parents)
    return sum(storages.values())


@pytest.mark.parametrize("model_type,lora,dtype", [
    *[(family, lora, torch.float32) for family in FAMILIES for lora in (None, "all-linear",
                                                                         "default")],
    ("llama", None, torch.bfloat16), ("gpt2", "default", torch.bfloat16)])
def test_activation_estimate_is_what_the_graph_saves(model_type, lora, dtype):
    config = _config(model_type)
    model = build_model(config, dtype=dtype)
    spec = None
    if lora is not None:
        targets = ("c_attn",) if model_type == "gpt2" and lora == "default" else (
            ("q_proj", "v_proj") if lora == "default" else lora)
        spec = LoraSpec(4, targets)
        apply_lora(model, r=4, target_modules=targets)
    ids = torch.randint(0, config.vocab_size, (2, 48))
    loss = model(ids, labels=ids).loss
    measured = _saved_activation_bytes(loss, model)
    estimate = plan(config, 2, 48, str(dtype).removeprefix("torch."), lora=spec).activations
    assert estimate == pytest.approx(measured, rel=0.02)


SMALL = Workload("small", "planner check", Shape(vocab=1024, dim=128, heads=4, kv_heads=2,
                                                  layers=2, mlp=352, seq=128), batch=2)


@pytest.mark.parametrize("workload", [
    SMALL, SMALL.replace(dtype="bfloat16"), SMALL.replace(grad_checkpointing=True),
    SMALL.replace(lora=Lora(r=8)),
    SMALL.replace(shape=Shape(vocab=256, dim=128, heads=4, kv_heads=2, layers=3, mlp=768,
                              seq=128), grad_checkpointing=True),
], ids=["fp32", "bf16", "checkpointed", "lora", "mlp-heavy-checkpointed"])
def test_peak_estimate_matches_the_torch_allocator_peak(workload):
    measured = probe(workload, "ttcustom", steps=2, measures=("tensor",))["tensor_peak_bytes"]
    assert workload.memory_plan().peak == pytest.approx(measured, rel=0.01)


@pytest.mark.slow
def test_peak_estimate_is_within_15_percent_of_measured_rss():
    workload = Workload("rss", "planner check", Shape(vocab=2048, dim=256, heads=4, kv_heads=2,
                                                      layers=4, mlp=704, seq=256), batch=4)
    measured = measure_peak(workload, "ttcustom", measures=("rss",))["rss_peak_bytes"]
    assert workload.memory_plan().peak == pytest.approx(measured, rel=0.15)


def test_largest_batch_is_the_largest_that_fits():
    config = ModelConfig(model_type="llama", vocab_size=32000, hidden_size=2048,
                         intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                         num_key_value_heads=4)
    n150 = SYSTEMS["n150"]
    batch = largest_batch(n150, config, 2048, dtype="bfloat16", lora=LoraSpec(), tile=True)
    options = dict(dtype="bfloat16", lora=LoraSpec(), tile=True)
    assert batch > 0
    assert plan(config, batch, 2048, **options).fits(n150)
    assert not plan(config, batch + 1, 2048, **options).fits(n150)


@pytest.mark.parametrize("shape,tiled", [((100, 40), 128 * 64), ((3, 100, 40), 3 * 128 * 64),
                                          ((40,), 32 * 64), ((), 32 * 32)])
def test_tiles_round_the_last_two_dims_up_to_multiples_of_32(shape, tiled):
    array = torch.empty(shape, dtype=torch.bfloat16, device="meta")
    assert ShapeBackend(tile=True).nbytes(array) == tiled * 2
    assert ShapeBackend(tile=False).nbytes(array) == array.numel() * 2


@pytest.mark.parametrize("fitting", [1, 2, 7])
def test_largest_batch_finds_the_edge_between_measured_batches(fitting):
    config = _config("llama")
    peaks = [plan(config, batch, 64).peak for batch in (fitting, fitting + 1)]
    dram = math.ceil(sum(peaks) / 2 / USABLE_FRACTION)  # between the two peaks
    system = System("test", 1, dram, "a chip that fits exactly the batch of `fitting`")
    assert largest_batch(system, config, 64) == fitting


@pytest.mark.parametrize("optimizer,arrays", [("adamw", 2), ("sgd_momentum", 1), ("sgd", 0)])
def test_optimizer_state_is_what_the_optimizer_creates(optimizer, arrays):
    estimate = plan(_config("llama"), 1, 32, "float32", optimizer)
    assert estimate.optimizer_state == arrays * estimate.gradients


def test_tt_plans_run_the_tt_backends_optimizer_step():
    # tt: moreh_adamw updates each bfloat16 parameter in place, so the step adds nothing;
    # the CPU reference takes sqrt(v) of a group at a time, the embedding being one alone
    config = _config("llama", vocab_size=4096, hidden_size=128)  # 512K elements > a group
    assert plan(config, 1, 32, tile=True).step_temporaries == 0
    assert plan(config, 1, 32).step_temporaries == pytest.approx(4096 * 128 * 2, rel=0.01)


def test_tt_lora_plans_hold_a_copy_of_each_frozen_linear_weight():
    # the tt backend lays each frozen linear weight out once as [in, out] and keeps it
    # (TTBackend.hold_frozen); frozen q/k/v, run as one grouped product, are held twice
    # (joint [in, q+k+v] and [q+k+v, in] layouts); dims and r are multiples of 32, so tiles
    # add no padding
    config = _config("llama")
    model = apply_lora(build_model(config, dtype=torch.bfloat16), r=32, target_modules=["q_proj"])
    frozen = sum(p.numel() for n, p in model.named_parameters()
                 if n.endswith("weight") and p.ndim == 2 and not p.requires_grad
                 and "embed" not in n)
    qkv = sum(p.numel() for n, p in model.named_parameters()
              if n.rsplit(".", 2)[-2] in ("q_proj", "k_proj", "v_proj") and n.endswith("weight"))
    adapters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    full = plan(config, 1, 32, tile=True)
    lora = plan(config, 1, 32, tile=True, lora=LoraSpec(32, ("q_proj",)))
    assert lora.weights - full.weights == (frozen + qkv + adapters) * 2


def test_tt_plans_form_the_attention_scores_as_the_tt_backend_does():
    # tt's training attention forms fp32 scores [B, H, S, S] (its fused kernel returns
    # no logsumexp); the CPU's flash attention never holds them
    config = _config("llama", max_position_embeddings=512)
    scores = 1 * config.num_attention_heads * 512 * 512 * 4
    assert plan(config, 1, 512, tile=True).backward_temporaries >= scores
    assert plan(config, 1, 512).backward_temporaries < scores


def _peak_rss_since(baseline: int) -> int:
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) * 1024 - baseline


def test_a_70b_plan_allocates_no_model_memory():
    config = ModelConfig(model_type="llama", vocab_size=128256, hidden_size=8192,
                         intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
                         num_key_value_heads=8, max_position_embeddings=8192)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak RSS starts again from the current RSS
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    baseline = int(status["VmRSS"].split()[0]) * 1024
    estimate = plan(config, 1, 4096, tile=True)
    assert estimate.parameters == 70_553_706_496
    assert estimate.weights > 130 * 2**30  # bfloat16 weights, on no memory at all:
    assert _peak_rss_since(baseline) < 1 * 2**30


def test_unknown_lora_target_names_the_available_layers():
    with pytest.raises(ValueError, match="available: .*q_proj"):
        plan(_config("llama"), 1, 16, lora=LoraSpec(8, ("query",)))


RUN_CONFIG = """
model:
  architecture: llama
model_config:
  vocab_size: 512
  hidden_dim: 64
  num_layers: 2
  num_heads: 4
  num_kv_heads: 2
  mlp_dim: 160
  max_seq_len: 256
training_config:
  batch_size: 4
  max_steps: 10
  max_sequence_length: 128
lora:
  r: 4
  target_modules: [q_proj, v_proj]
"""


def test_plan_command_reads_the_run_config(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(RUN_CONFIG)
    assert cli_main(["plan", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    model = apply_lora(build_model(_config("llama", vocab_size=512, max_position_embeddings=256,
                                           tie_word_embeddings=True)),  # the YAML default
                       r=4, target_modules=["q_proj", "v_proj"])
    assert report["parameters"] == sum(p.numel() for p in model.parameters())
    assert report["trainable_parameters"] == sum(p.numel() for p in model.parameters()
                                                 if p.requires_grad)
    assert (report["batch_size_per_device"], report["seq_len"]) == (4, 128)
    assert [row["system"] for row in report["systems"]] == list(SYSTEMS)


def test_tt_plans_hold_a_frozen_groups_two_joint_copies():
    # a grouped_linear whose members are all frozen keeps W_cat [in, O] and its [O, in]
    # rows (GroupedOps), not one [in, out] copy per member; 32-multiples: no padding
    backend = ShapeBackend(tile=True)
    with backend.counting():
        x = tc.zeros(4, 64, backend=backend, dtype=torch.bfloat16)
        weights = [tc.zeros(out, 64, backend=backend, dtype=torch.bfloat16) for out in (64, 32)]
        F.grouped_linear(x, [F.LinearTerms(w) for w in weights])
        assert backend.kept_bytes() == 2 * (64 + 32) * 64 * 2
