"""The benchmark workloads: what model, what batch, which parameters train.

`scratch`: a ~15M-parameter Llama trained from scratch (all parameters, seq 256).
`lora`: the main job's fine-tune (examples/configs/trickster_smollm2.yaml) on
SmolLM2-135M's shape (30 layers, hidden 576, 9 query / 3 key-value heads, vocab 49152):
LoRA r=16 on all seven linears of every layer, 4 x 256 tokens. The head is untied
(SmolLM2 ties it to the embedding; frozen, either costs the same compute).
`lora_wide`: a LoRA fine-tune of a TinyLlama-1.1B-shaped model cut to 4 of its 22 layers
(full width: hidden 2048, MLP 5632, 32 query / 4 key-value heads, vocab 32000), so a
step fits a CPU run: almost all of its time is frozen float32 matmuls.
Each has a `tiny` size for the smoke test.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import torch

from benchmarks.tiny_llama import Shape
from ttcustom.data import IGNORE_INDEX
from ttcustom.memory import LoraSpec, MemoryPlan, plan


@dataclass(frozen=True)
class Lora:
    r: int = 8
    alpha: float = 16.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    shape: Shape
    batch: int
    lora: Lora | None = None
    dtype: str = "float32"
    grad_checkpointing: bool = False

    @property
    def tokens_per_step(self) -> int:
        return self.batch * self.shape.seq

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Workload:
        fields = json.loads(text)
        lora = fields.pop("lora")
        lora = None if lora is None else Lora(**{**lora, "target_modules": tuple(
            lora["target_modules"])})
        return cls(**{**fields, "shape": Shape(**fields["shape"]), "lora": lora})

    def replace(self, **changes: object) -> Workload:
        return replace(self, **changes)

    def memory_plan(self) -> MemoryPlan:
        """The memory planner's estimate of this workload on the reference backend."""
        lora = self.lora
        return plan(self.shape.model_config(), self.batch, self.shape.seq, self.dtype,
                    lora=LoraSpec(lora.r, lora.target_modules) if lora else None,
                    grad_checkpointing=self.grad_checkpointing)


SCRATCH = Shape(vocab=4096, dim=384, heads=6, kv_heads=6, layers=7, mlp=1024, seq=256)
SMOLLM2 = Shape(vocab=49152, dim=576, heads=9, kv_heads=3, layers=30, mlp=1536, seq=256,
                norm_eps=1e-5, rope_theta=100000.0)
ALL_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TINYLLAMA_4L = Shape(vocab=32000, dim=2048, heads=32, kv_heads=4, layers=4, mlp=5632, seq=256,
                     norm_eps=1e-5)

WORKLOADS: dict[str, dict[str, Workload]] = {
    "full": {
        "scratch": Workload("scratch", "from-scratch Llama, 15.5M params", SCRATCH, batch=8),
        "lora": Workload("lora", "LoRA r=16 (all linears) on SmolLM2-135M shape", SMOLLM2,
                         batch=4, lora=Lora(r=16, alpha=32.0, target_modules=ALL_LINEARS)),
        "lora_wide": Workload("lora_wide", "LoRA r=8 (q,v) on TinyLlama width, 4 layers",
                              TINYLLAMA_4L, batch=1, lora=Lora()),
    },
    "tiny": {
        "scratch": Workload("scratch", "from-scratch Llama (tiny)",
                            Shape(vocab=128, dim=32, heads=2, kv_heads=2, layers=1, mlp=64,
                                  seq=16), batch=2),
        "lora": Workload("lora", "LoRA, all linears (tiny)",
                         Shape(vocab=128, dim=48, heads=3, kv_heads=1, layers=2, mlp=96, seq=16),
                         batch=2, lora=Lora(r=4, target_modules=ALL_LINEARS)),
        "lora_wide": Workload("lora_wide", "LoRA (tiny)",
                              Shape(vocab=128, dim=64, heads=4, kv_heads=2, layers=1, mlp=96,
                                    seq=16), batch=1, lora=Lora(r=4)),
    },
}


def get_workload(size: str, name: str) -> Workload:
    try:
        return WORKLOADS[size][name]
    except KeyError:
        raise ValueError(f"no workload {name!r} of size {size!r}; sizes: {list(WORKLOADS)}, "
                         f"workloads: {list(WORKLOADS['full'])}") from None


@dataclass(frozen=True)
class Batch:
    """Token ids, causal-LM labels (= ids; models shift them), and the labels already
    shifted for models that score position i against labels[i]."""

    ids: torch.Tensor
    labels: torch.Tensor
    aligned: torch.Tensor


def make_batches(workload: Workload, count: int, seed: int = 0) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        ids = torch.randint(0, workload.shape.vocab, (workload.batch, workload.shape.seq),
                            generator=g)
        pad = torch.full((workload.batch, 1), IGNORE_INDEX)
        out.append(Batch(ids, ids, torch.cat([ids[:, 1:], pad], dim=1)))
    return out


__all__ = ["Batch", "Lora", "WORKLOADS", "Workload", "get_workload", "make_batches"]
