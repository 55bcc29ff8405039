"""Export: transformers/vLLM checkpoints, PEFT adapters, LoRA merging."""

from ttcustom.export.hf import to_hf
from ttcustom.export.peft import to_peft
from ttcustom.lora import merge_lora

__all__ = ["merge_lora", "to_hf", "to_peft"]
