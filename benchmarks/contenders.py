"""The implementations a workload is timed on, each as a `Runner` doing one training step.

Every runner does the same step: forward with the causal-LM loss, backward, gradient
clipping to norm 1.0, AdamW, zero_grad, and reading the loss on the host.

* `ttcustom`: `ttcustom.models.LlamaForCausalLM` (+ `ttcustom.lora.apply_lora`) on the
  selected backend; token ids are uploaded inside the step, as a trainer does.
* `captured`: the same step under `ttcustom.compile_step`: captured once, replayed
  compiled (torch.compile of the recorded primitives on CPU/CUDA, a ttnn trace on tt).
* `eager`: the same model in plain PyTorch (`TorchLM`, + `apply_torch_lora`).
* `compile`: that PyTorch model under `torch.compile` (forward and backward compiled; the
  optimizer step stays eager).
* `transformers`: transformers' `LlamaForCausalLM` (+ peft LoRA), what most users run; it
  carries framework overhead (output dataclasses, mask and position plumbing, loss
  upcasting) that the plain model does not.

Given a `state` (a state dict with ttcustom names), all runners start from its values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

import ttcustom as tc
from benchmarks.device_memory import device_memory_in_use
from benchmarks.tiny_llama import TorchLM
from benchmarks.torch_lora import apply_torch_lora
from benchmarks.workloads import Batch, Workload
from ttcustom.backends import Backend
from ttcustom.capture import CapturedStep
from ttcustom.lora import apply_lora
from ttcustom.models import LlamaForCausalLM
from ttcustom.models.llama import LLAMA_WEIGHTS
from ttcustom.nn import init

CONTENDERS = ("ttcustom", "captured", "eager", "compile", "transformers")
State = dict[str, torch.Tensor]


@dataclass
class Runner:
    name: str
    step: Callable[[Batch], float]
    trainable: int
    backend: Backend | None = None  # ttcustom only: its transfer counter and memory
    #: when a list, the ttcustom step appends the device memory in use after forward
    memory_samples: list[int] | None = None
    captured: CapturedStep | None = None  # captured only


def reference_state(workload: Workload, seed: int = 0) -> State:
    """Initial weights every runner loads (a seeded `TorchLM`, with LoRA when asked)."""
    torch.manual_seed(seed)
    model = torch_model(workload.replace(grad_checkpointing=False))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build(name: str, workload: Workload, state: State | None = None,
          backend: str = "cpu") -> Runner:
    """The runner `name` (one of CONTENDERS) for `workload`."""
    if name in ("ttcustom", "captured"):
        return _ttcustom(workload, state, backend, captured=name == "captured")
    torch_builders = {"eager": _eager, "compile": _compiled, "transformers": _transformers}
    if name not in torch_builders:
        raise ValueError(f"unknown contender {name!r}; choose from {CONTENDERS}")
    return torch_builders[name](workload, state)


# ---------------------------------------------------------------------- ttcustom
def _ttcustom(workload: Workload, state: State | None, backend_name: str,
              captured: bool = False) -> Runner:
    backend = tc.get_backend(backend_name)
    with init.skip_init():
        model = LlamaForCausalLM(workload.shape.model_config(), workload.torch_dtype, backend)
    if state is None:
        model.init_weights()
    if workload.grad_checkpointing:
        model.gradient_checkpointing_enable()
    if workload.lora is not None:
        lora = workload.lora
        apply_lora(model, lora.r, lora.alpha, target_modules=list(lora.target_modules))
    if state is not None:
        model.load_state_dict(state)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = tc.optim.AdamW(params, lr=1e-4)

    def train_step(ids: tc.Tensor, labels: tc.Tensor) -> tc.Tensor:
        loss = model(ids, labels=labels).loss
        if runner.memory_samples is not None and not captured:
            runner.memory_samples.append(device_memory_in_use(backend))
        loss.backward()
        tc.optim.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        return loss

    compiled = tc.compile_step(train_step, model=model, optimizer=opt) if captured else None

    def step(batch: Batch) -> float:
        if compiled is not None:
            return compiled(batch.ids, batch.labels).item()
        ids = tc.tensor(batch.ids, backend=backend)
        labels = tc.tensor(batch.labels, backend=backend)
        return train_step(ids, labels).item()

    runner = Runner("captured" if captured else "ttcustom", step,
                    sum(p.numel() for p in params), backend, captured=compiled)
    return runner


# ---------------------------------------------------------------------- plain torch
def torch_model(workload: Workload, state: State | None = None) -> TorchLM:
    """The plain-PyTorch model of `workload` (LoRA applied), from `state` if given."""
    if workload.grad_checkpointing:
        raise ValueError("the plain-PyTorch twin has no gradient checkpointing; "
                         "time such a workload on ttcustom and transformers only")
    model = TorchLM(workload.shape)
    if workload.lora is not None:
        lora = workload.lora
        apply_torch_lora(model, lora.r, lora.alpha, lora.target_modules)
    if state is not None:
        model.load_state_dict(state)
    return model.to(workload.torch_dtype)


def _torch_runner(name: str, model: torch.nn.Module,
                  forward: Callable[[Batch], torch.Tensor]) -> Runner:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step(batch: Batch) -> float:
        loss = forward(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        return loss.item()

    return Runner(name, step, sum(p.numel() for p in params))


def _eager(workload: Workload, state: State | None) -> Runner:
    model = torch_model(workload, state)
    return _torch_runner("eager", model, lambda b: model(b.ids, b.aligned))


def _compiled(workload: Workload, state: State | None) -> Runner:
    model = torch_model(workload, state)
    compiled = torch.compile(model)
    return _torch_runner("compile", model, lambda b: compiled(b.ids, b.aligned))


def _transformers(workload: Workload, state: State | None) -> Runner:
    import transformers

    config = transformers.LlamaConfig(**workload.shape.model_config().to_hf_dict())
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    model = model.to(workload.torch_dtype)
    if workload.grad_checkpointing:
        model.gradient_checkpointing_enable()
    if state is not None:
        base = {k: v for k, v in state.items() if "lora_" not in k}
        model.load_state_dict({LLAMA_WEIGHTS.lookup(k)[0]: v for k, v in base.items()})
    if workload.lora is not None:
        import peft

        lora = workload.lora
        model = peft.get_peft_model(model, peft.LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=0.0,
            target_modules=list(lora.target_modules)))
        if state is not None:
            unexpected = model.load_state_dict(_peft_names(state), strict=False).unexpected_keys
            if unexpected:
                raise KeyError(f"peft model has no parameters named {unexpected[:3]}")
    model.train()
    return _torch_runner("transformers", model,
                         lambda b: model(input_ids=b.ids, labels=b.labels).loss)


def _peft_names(state: State) -> State:
    """Our LoRA keys ("layers.0.attn.q_proj.lora_A") -> peft's keys."""
    out = {}
    for key, value in state.items():
        module, _, matrix = key.rpartition(".")
        if matrix.startswith("lora_"):
            hf_module = LLAMA_WEIGHTS.lookup(f"{module}.weight")[0].removesuffix(".weight")
            out[f"base_model.model.{hf_module}.{matrix}.default.weight"] = value
    return out


__all__ = ["CONTENDERS", "Runner", "build", "reference_state", "torch_model"]
