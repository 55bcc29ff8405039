"""Tiny random transformers models (built from configs, nothing downloaded) and comparisons."""

from __future__ import annotations

import torch
import transformers

import ttcustom as tc

TINY = dict(vocab_size=96, hidden_size=64, intermediate_size=112, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)

# one tiny config per supported architecture (GQA everywhere it exists)
HF_CONFIGS = {
    "llama": lambda: transformers.LlamaConfig(**TINY, rms_norm_eps=1e-5),
    "llama_tied_bias": lambda: transformers.LlamaConfig(
        **TINY, tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
    "llama3_rope": lambda: transformers.LlamaConfig(
        **TINY, rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                 "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 16}),
    "llama_linear_rope": lambda: transformers.LlamaConfig(
        **TINY, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}),
    # max_position_embeddings below the test length: the NTK base is recomputed
    "llama_dynamic_rope": lambda: transformers.LlamaConfig(
        **(TINY | {"max_position_embeddings": 8}),
        rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}),
    "mistral": lambda: transformers.MistralConfig(**TINY, sliding_window=None),
    "qwen2": lambda: transformers.Qwen2Config(**TINY),
    "qwen2_tied": lambda: transformers.Qwen2Config(**TINY, tie_word_embeddings=True),
    "qwen3": lambda: transformers.Qwen3Config(**TINY, head_dim=24),
    "gpt2": lambda: transformers.GPT2Config(
        vocab_size=96, n_embd=64, n_layer=2, n_head=4, n_positions=128,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=1),
}


def hf_model(name: str, seed: int = 0) -> transformers.PreTrainedModel:
    """A random fp32 transformers causal LM; norms and biases randomised too, so a wrong
    mapping of any tensor shows up in the logits."""
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(HF_CONFIGS[name]())
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


def batch(vocab: int = 96, size: tuple[int, int] = (2, 11), seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, size, generator=g)
    labels = ids.clone()
    labels[0, :3] = -100
    return ids, labels


def ours_by_hf_name(model) -> dict[str, tc.Tensor]:
    """Our parameters keyed by their transformers names (tied ones under the HF owner)."""
    table = model.weight_table
    out = {}
    for name, param in model.named_parameters():
        hf_name, transposed = table.lookup(name)
        out[hf_name] = (param, transposed)
    return out
