"""GGUF import against transformers' own GGUF loading, on tiny files written here with gguf-py."""

import json

import numpy as np
import pytest
import torch
import transformers

import ttcustom as tc
from tests.models.hf_helpers import batch
from ttcustom.data import load_tokenizer
from ttcustom.export import to_hf
from ttcustom.models import from_gguf, from_hf

gguf = pytest.importorskip("gguf")

CHAT_TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"


def _tokens(vocab_size):
    symbols = list(tc.data.tokenizers._byte_to_unicode().values())
    tokens = symbols + ["\u0120t", "<|endoftext|>"]
    return tokens + [f"<extra_{i}>" for i in range(vocab_size - len(tokens))]


def _permute(weights, heads):  # llama.cpp's convert_hf_to_gguf.py LlamaModel.permute
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


K_QUANTS = ("Q4_K", "Q6_K")  # gguf-py cannot quantize to these: random blocks instead


def _k_blocks(shape, qtype, rng):
    """Random `qtype` super-blocks for a [rows, cols] weight, with small fp16 scales."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows, cols = shape
    blocks = rng.integers(0, 256, size=(rows, cols // block, size), dtype=np.uint8)
    scale = np.full((rows, cols // block), 0.01, np.float16).view(np.uint8)
    scale = scale.reshape(rows, cols // block, 2)
    if qtype.name == "Q4_K":  # d and dmin first
        blocks[..., 0:2], blocks[..., 2:4] = scale, scale
    else:  # Q6_K: d last
        blocks[..., size - 2:] = scale
    return blocks.reshape(rows, -1)


def write_gguf(model, path, qtype):
    """`model` (a transformers Llama) as llama.cpp's converter writes it, 2-d weights in `qtype`."""
    c = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(c.num_hidden_layers)
    writer.add_context_length(c.max_position_embeddings)
    writer.add_embedding_length(c.hidden_size)
    writer.add_feed_forward_length(c.intermediate_size)
    writer.add_head_count(c.num_attention_heads)
    writer.add_head_count_kv(c.num_key_value_heads)
    writer.add_rope_freq_base(c.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(c.rms_norm_eps)
    writer.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    tokens = _tokens(c.vocab_size)
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t.startswith("<") else
                            gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges(["\u0120 t"])
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    names = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
    parts = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for name, tensor in model.state_dict().items():
        stem, kind = name.rsplit(".", 1)
        if stem.startswith("model.layers."):
            layer, module = stem.removeprefix("model.layers.").split(".", 1)
            out = f"blk.{layer}.{parts[module]}.{kind}"
        else:
            out = f"{names[stem]}.{kind}"
        data = tensor.float().numpy()
        if out.endswith("attn_q.weight"):
            data = _permute(data, c.num_attention_heads)
        if out.endswith("attn_k.weight"):
            data = _permute(data, c.num_key_value_heads)
        if data.ndim == 2 and qtype.name in K_QUANTS:
            writer.add_tensor(out, _k_blocks(data.shape, qtype, np.random.default_rng(0)),
                              raw_dtype=qtype)
        elif data.ndim == 2 and qtype != gguf.GGMLQuantizationType.F32:
            data = gguf.quants.quantize(data.astype(np.float16 if qtype.name == "F16"
                                                    else np.float32), qtype)
            writer.add_tensor(out, data, raw_dtype=qtype)
        else:
            writer.add_tensor(out, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_llama(hidden_size=64, intermediate_size=128):
    config = transformers.LlamaConfig(
        vocab_size=264, hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0})
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():  # norms away from 1, so a misplaced norm changes the logits
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


@pytest.mark.parametrize("qtype", ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", *K_QUANTS])
def test_gguf_model_matches_transformers_gguf_loading(qtype, tmp_path):
    sizes = (256, 256) if qtype in K_QUANTS else (64, 128)  # K-quant blocks hold 256 values
    path = write_gguf(tiny_llama(*sizes), tmp_path / "tiny.gguf", gguf.GGMLQuantizationType[qtype])
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path, gguf_file="tiny.gguf", dtype=torch.float32).eval()
    ours = from_gguf(path, backend="cpu").eval()
    ids, _ = batch()
    with torch.no_grad(), tc.no_grad():
        torch.testing.assert_close(ours(ids).logits.to_torch(), reference(ids).logits,
                                   rtol=1e-4, atol=1e-4)


def test_gguf_tokenizer_and_chat_template_reach_the_export(tmp_path):
    path = write_gguf(tiny_llama(), tmp_path / "tiny.gguf", gguf.GGMLQuantizationType.F32)
    model, tokenizer = from_hf(path, backend="cpu"), load_tokenizer(path)
    assert tokenizer.chat_template == CHAT_TEMPLATE
    to_hf(model, tmp_path / "out")
    tc.data.save_tokenizer(tokenizer, tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["rope_theta"] == 100000.0 and config["tie_word_embeddings"] is False
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path, gguf_file="tiny.gguf")
    text = "the cat at tea"
    assert reloaded(text).input_ids == reference(text).input_ids
    assert reloaded.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) \
        == "<user>hi"
