"""The `ttcustom plan` report: a breakdown per dtype and a fit table per Tenstorrent system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ttcustom.memory.devices import GIB, SYSTEMS, USABLE_FRACTION
from ttcustom.memory.planner import MemoryPlan, as_lora_spec, largest_batch, plan

REPORT_DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class Request:
    """What to plan: the model and the run's step shape (from a YAML config or flags)."""

    model_config: Any
    batch_size: int
    seq_len: int
    dtype: str
    optimizer: str
    lora: Any
    world_size: int


def _gb(nbytes: float) -> str:
    return f"{nbytes / GIB:.2f} GiB"


def _count(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.2f}M" if n >= 1e6 else str(n)


def plans_by_dtype(request: Request) -> dict[str, dict[bool, MemoryPlan]]:
    """{dtype: {grad_checkpointing: plan}} on tt tiles, for the request's world size."""
    return {dtype: {ckpt: plan(request.model_config, request.batch_size, request.seq_len,
                               dtype, request.optimizer, request.lora, ckpt,
                               request.world_size, tile=True)
                    for ckpt in (False, True)}
            for dtype in REPORT_DTYPES}


def system_rows(request: Request) -> list[dict[str, Any]]:
    """Per system: peak per chip with and without checkpointing, fits, largest batch."""
    rows = []
    for system in SYSTEMS.values():
        row: dict[str, Any] = {"system": system.name, "chips": system.chips,
                               "dram_per_chip_bytes": system.dram_per_chip}
        for ckpt in (False, True):
            kind = "checkpointed" if ckpt else "plain"
            options = dict(dtype=request.dtype, optimizer=request.optimizer, lora=request.lora,
                           grad_checkpointing=ckpt, tile=True)
            estimate = plan(request.model_config, request.batch_size, request.seq_len,
                            world_size=system.chips, **options)
            row[kind] = {"peak_per_chip_bytes": estimate.peak, "fits": estimate.fits(system),
                         "largest_batch_per_chip": largest_batch(
                             system, request.model_config, request.seq_len, **options)}
        rows.append(row)
    return rows


def as_dict(request: Request) -> dict[str, Any]:
    """The whole report, JSON-ready."""
    by_dtype = plans_by_dtype(request)
    some = by_dtype[REPORT_DTYPES[0]][False]
    fields = ("weights", "gradients", "optimizer_state", "activations", "backward_temporaries",
              "step_temporaries", "ddp_buffers", "backward_peak", "optimizer_peak", "peak")
    return {
        "model_type": some.config.model_type,
        "parameters": some.parameters,
        "trainable_parameters": some.trainable_parameters,
        "batch_size_per_device": request.batch_size,
        "seq_len": request.seq_len,
        "optimizer": request.optimizer,
        "world_size": request.world_size,
        "dtype_for_systems": request.dtype,
        "per_device_bytes": {
            dtype: {("checkpointed" if ckpt else "plain"): {f: getattr(p, f) for f in fields}
                    for ckpt, p in plans.items()}
            for dtype, plans in by_dtype.items()},
        "systems": system_rows(request),
        "usable_fraction_of_dram": USABLE_FRACTION,
    }


def format_report(request: Request) -> str:
    """Human-readable `ttcustom plan` output."""
    by_dtype = plans_by_dtype(request)
    first = by_dtype[REPORT_DTYPES[0]][False]
    spec = as_lora_spec(request.lora)
    targets = (spec.target_modules if isinstance(spec.target_modules, str)
               else ", ".join(spec.target_modules)) if spec else ""
    lora = (f" (LoRA r={spec.r} on {targets}: {_count(first.trainable_parameters)} trainable)"
            if spec else "")
    lines = [
        f"model: {first.config.model_type}, {_count(first.parameters)} parameters{lora}",
        f"step: batch {request.batch_size} per device x {request.seq_len} tokens, "
        f"{request.optimizer}, data parallel over {request.world_size} device(s); "
        "tt tile padding included",
        "",
        f"{'per device':<26}" + "".join(f"{d:>12}" for d in REPORT_DTYPES),
    ]
    rows = [("weights", "weights"), ("gradients", "gradients"),
            ("optimizer state", "optimizer_state"), ("activations", "activations"),
            ("temporaries", None), ("ddp gradient buckets", "ddp_buffers"),
            ("peak", "peak")]
    for label, attr in rows:
        values = [_temporaries(p[False]) if attr is None else getattr(p[False], attr)
                  for p in by_dtype.values()]
        lines.append(f"{label:<26}" + "".join(f"{_gb(v):>12}" for v in values))
    lines.append(f"{'activations, checkpointed':<26}"
                 + "".join(f"{_gb(p[True].activations):>12}" for p in by_dtype.values()))
    lines.append(f"{'peak, checkpointed':<26}"
                 + "".join(f"{_gb(p[True].peak):>12}" for p in by_dtype.values()))
    lines += ["", f"fit in {request.dtype} (usable: {USABLE_FRACTION:.0%} of DRAM per chip; "
              "data parallel over all chips, batch per chip):",
              f"{'system':<8}{'chips':>6}{'DRAM/chip':>11}{'peak/chip':>12}{'fits':>6}"
              f"{'max batch':>11}{'ckpt peak':>12}{'fits':>6}{'max batch':>11}"]
    for row in system_rows(request):
        plain, ckpt = row["plain"], row["checkpointed"]
        lines.append(
            f"{row['system']:<8}{row['chips']:>6}{_gb(row['dram_per_chip_bytes']):>11}"
            f"{_gb(plain['peak_per_chip_bytes']):>12}{_yes(plain['fits']):>6}"
            f"{plain['largest_batch_per_chip']:>11}{_gb(ckpt['peak_per_chip_bytes']):>12}"
            f"{_yes(ckpt['fits']):>6}{ckpt['largest_batch_per_chip']:>11}")
    return "\n".join(lines)


def _temporaries(p: MemoryPlan) -> int:
    """The temporaries of whichever moment is the peak."""
    return p.backward_temporaries if p.backward_peak >= p.optimizer_peak else p.step_temporaries


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"

