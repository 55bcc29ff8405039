"""The hardware guide's batch-size and memory tables, computed by the memory planner.

Generated at build time from `ttcustom.memory` (the planner `ttcustom plan` uses, checked
against measured memory), so the guide and the planner cannot disagree. The workloads
are the tutorial's: TinyLlama with the LoRA settings of the shipped N150 config, full
fine-tuning of TinyLlama, and the Nano-Trickster config of CT-8.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

BATCH_MARKER = "<!-- largest-batch-table -->"
BREAKDOWN_MARKER = "<!-- memory-breakdown-table -->"
ROOT = Path(__file__).resolve().parent.parent.parent
CONFIGS = ROOT / "examples" / "configs"
SYSTEM_ORDER = ("n150", "n300", "t3k", "galaxy", "p100", "p150")
GIB = 1 << 30

#: TinyLlama-1.1B's config.json values (the tutorial's CT-4 model)
TINYLLAMA = {"model_type": "llama", "vocab_size": 32000, "hidden_size": 2048,
             "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
             "num_key_value_heads": 4, "max_position_embeddings": 2048}


def _config(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))


def workloads() -> list[tuple[str, dict[str, Any], int, dict[str, Any]]]:
    """(label, model config, sequence length, planner options) of each table row."""
    from ttcustom.memory import LoraSpec

    n150 = _config("trickster_tinyllama_n150.yaml")
    lora = LoraSpec(r=n150["lora"]["r"], target_modules=tuple(n150["lora"]["target_modules"]))
    seq = n150["training_config"]["max_sequence_length"]
    nano = _config("nano_trickster.yaml")
    arch = nano["model_config"]
    nano_model = {"model_type": "llama", "vocab_size": arch["vocab_size"],
                  "hidden_size": arch["hidden_dim"], "intermediate_size": arch["mlp_dim"],
                  "num_hidden_layers": arch["num_layers"], "num_attention_heads": arch["num_heads"],
                  "max_position_embeddings": arch["max_seq_len"],
                  "tie_word_embeddings": arch["tie_embeddings"]}
    targets = ", ".join(lora.target_modules)
    return [
        (f"TinyLlama 1.1B + LoRA r={lora.r} ({targets}), CT-4", TINYLLAMA, seq, {"lora": lora}),
        ("TinyLlama 1.1B, full fine-tuning", TINYLLAMA, seq, {}),
        ("TinyLlama 1.1B, full fine-tuning + gradient checkpointing", TINYLLAMA, seq,
         {"grad_checkpointing": True}),
        ("Nano-Trickster from scratch, CT-8", nano_model, arch["max_seq_len"], {}),
    ]


def batch_table() -> str:
    """Largest batch per chip (and the global batch) on each system, bfloat16, tiles."""
    from ttcustom.memory import SYSTEMS, largest_batch

    head = "| workload (sequence length) | " + " | ".join(SYSTEM_ORDER) + " |"
    rows = [head, "| --- |" + " --- |" * len(SYSTEM_ORDER)]
    for label, model, seq, options in workloads():
        cells = []
        for name in SYSTEM_ORDER:
            system = SYSTEMS[name]
            batch = largest_batch(system, model, seq, tile=True, **options)
            if batch == 0:
                cells.append("does not fit")
            else:
                total = f" ({batch * system.chips} global)" if system.chips > 1 else ""
                cells.append(f"{batch}{total}")
        rows.append(f"| {label} ({seq}) | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def breakdown_table(batch: int = 8) -> str:
    """Where the memory of one chip goes at `batch` sequences, per workload."""
    from ttcustom.memory import plan

    rows = [f"| workload, batch {batch} per chip | weights | gradients | optimizer state | "
            "activations | peak |", "| --- | --- | --- | --- | --- | --- |"]
    for label, model, seq, options in workloads():
        p = plan(model, batch, seq, tile=True, **options)
        values = (p.weights, p.gradients, p.optimizer_state, p.activations, p.peak)
        rows.append(f"| {label} | " + " | ".join(f"{v / GIB:.2f} GiB" for v in values) + " |")
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs hook)
    """mkdocs hook: fill the markers on the hardware guide."""
    if BATCH_MARKER not in markdown and BREAKDOWN_MARKER not in markdown:
        return markdown
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return (markdown.replace(BATCH_MARKER, batch_table())
            .replace(BREAKDOWN_MARKER, breakdown_table()))
