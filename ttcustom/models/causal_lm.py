"""`CausalLM`: the decoder-only language model every supported architecture instantiates.

Embeddings -> `TransformerBlock` x N -> final norm -> LM head, with the loss of
transformers' causal-LM heads (labels shifted inside, ignore_index=-100). What differs
between architectures comes from the config's registered `Architecture`
(`config.family`, `config.spec`); subclasses declare their checkpoint `weight_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ttcustom import functional as F
from ttcustom.autograd.function import is_grad_enabled
from ttcustom.autograd.tensor import Tensor
from ttcustom.backends import Backend, get_backend
from ttcustom.creation import from_torch, full
from ttcustom.data.encode import IGNORE_INDEX
from ttcustom.models.config import GELU_ACTS, ConfigError, ModelConfig
from ttcustom.models.recompute import recompute
from ttcustom.models.weights import WeightTable
from ttcustom.nn import init
from ttcustom.nn.containers import ModuleList
from ttcustom.nn.layers import Dropout, Embedding, LayerNorm, Linear, RMSNorm
from ttcustom.nn.module import Module
from ttcustom.nn.transformer import (
    MLP,
    Attention,
    AttentionInputs,
    GatedMLP,
    KVCache,
    RotaryEmbedding,
    TransformerBlock,
)


@dataclass
class CausalLMOutput:
    """`loss` (scalar Tensor, or None without labels) and `logits` [B, S, V]."""

    loss: Tensor | None
    logits: Tensor


def _norm(config: ModelConfig, dtype: torch.dtype, device: Backend) -> Module:
    if config.family.norm == "rms":
        return RMSNorm(config.hidden_size, config.norm_eps, device, dtype)
    return LayerNorm(config.hidden_size, config.norm_eps, True, device, dtype)


def build_block(config: ModelConfig, dtype: torch.dtype, device: Backend) -> TransformerBlock:
    """One decoder layer as `config` describes it."""
    family = config.family
    attn = Attention(
        config.hidden_size, config.num_attention_heads, config.num_key_value_heads,
        config.head_dim,
        qkv_bias=family.qkv_bias or family.all_bias or config.attention_bias,
        o_bias=family.all_bias or config.attention_bias,
        qk_norm_eps=config.norm_eps if family.qk_norm else None,
        fused_qkv=family.fused_qkv, dropout=config.attention_dropout, dtype=dtype,
        device=device,
    )
    if family.mlp == "gated":
        mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.mlp_bias, dtype, device)
    else:
        mlp = MLP(config.hidden_size, config.intermediate_size, GELU_ACTS[config.hidden_act],
                  True, dtype, device)
    return TransformerBlock(attn, mlp, _norm(config, dtype, device), _norm(config, dtype, device),
                            config.hidden_dropout)


class CausalLM(Module):
    """A decoder-only LM; call it like a transformers `*ForCausalLM` model."""

    weight_table: ClassVar[WeightTable]

    def __init__(self, config: ModelConfig, dtype: torch.dtype | None = None,
                 backend: str | Backend | None = None) -> None:
        super().__init__()
        builder = config.spec.model_class
        if not isinstance(self, builder):
            raise ConfigError(
                f"{type(self).__name__} does not build model type {config.model_type!r} "
                f"({builder.__name__} does); use ttcustom.models.build_model(config)"
            )
        device = get_backend(backend)
        dtype = dtype or device.default_float
        self.config = config
        self.gradient_checkpointing = False
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, device, dtype)
        if config.family.positions == "learned":
            self.embed_positions = Embedding(config.max_position_embeddings, config.hidden_size,
                                             device, dtype)
        else:
            self.rotary = RotaryEmbedding(config.head_dim, config.rope_theta, config.rope_scaling,
                                          config.max_position_embeddings, dtype, device)
        self.embed_dropout = (Dropout(config.embedding_dropout)
                              if config.embedding_dropout > 0 else None)
        self.layers = ModuleList(build_block(config, dtype, device)
                                 for _ in range(config.num_hidden_layers))
        self.norm = _norm(config, dtype, device)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, False, device, dtype)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    # ------------------------------------------------------------------ set-up
    def init_weights(self) -> CausalLM:
        """transformers' initialisation: normal(0, initializer_range) for linear and
        embedding weights (the architecture's `residual_projections` scaled by
        1/sqrt(2 * layers), as GPT-2 does), zero biases, unit norms."""
        std = self.config.initializer_range
        residual_std = std / math.sqrt(2 * self.config.num_hidden_layers)
        scaled = self.config.spec.residual_projections
        for name, module in self.named_modules():
            if isinstance(module, (Linear, Embedding)):
                leaf = name.rsplit(".", 1)[-1]
                init.normal_(module.weight, 0.0, residual_std if leaf in scaled else std)
            if isinstance(module, (RMSNorm, LayerNorm)):
                init.ones_(module.weight)
            bias = getattr(module, "bias", None)
            if isinstance(bias, Tensor):
                init.zeros_(bias)
        return self

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each block in backward instead of keeping its activations (training)."""
        self.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        self.gradient_checkpointing = False

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: Tensor | torch.Tensor,
        attention_mask: Tensor | torch.Tensor | None = None,
        labels: Tensor | torch.Tensor | None = None,
        position_ids: Tensor | torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        logits_to_keep: int = 0,
    ) -> CausalLMOutput:
        """Logits (and the loss when `labels` are given) for a batch of token ids [B, S].

        Host torch tensors are uploaded first, then everything runs on the device;
        `attention_mask` [B, past + S] marks real tokens (1) and padding (0), or is a 4-D
        [B, 1, S, past + S] keep mask (packed rows). `labels` [B, S] are not shifted (the
        loss shifts them, as transformers does). `position_ids`, `kv_cache` and
        `logits_to_keep` (last N positions only; 0 = all) serve generation.
        """
        weight = self.embed_tokens.weight
        backend, dtype = weight.backend, weight.dtype
        if labels is not None and logits_to_keep:
            raise ValueError("labels and logits_to_keep cannot be combined")
        ids = _on_device(input_ids, backend, "input_ids")
        if ids.ndim != 2:
            raise ValueError(f"input_ids must be [batch, seq], got shape {ids.shape}")
        batch, seq = ids.shape
        past = kv_cache.length if kv_cache is not None else 0
        keep = _keep_mask(attention_mask, batch, seq, past)
        mask = None if keep is None else _on_device(keep, backend, "attention_mask", dtype)
        positions = None if position_ids is None else _on_device(position_ids, backend,
                                                                 "position_ids")
        targets = None if labels is None else _on_device(labels, backend, "labels")
        if targets is not None and targets.shape != (batch, seq):
            raise ValueError(f"labels have shape {tuple(targets.shape)}, expected "
                             f"({batch}, {seq}) like input_ids")
        self._check_length(past + seq)
        x = self.embed_tokens(ids)
        cos = sin = None
        if self.config.family.positions == "learned":
            x = x + self._learned_positions(past, seq, positions)
        else:
            cos, sin = self._rotary(past, seq, positions, position_ids)
        bias, is_causal = _attention_bias(mask, seq, past, dtype, backend)
        inputs = AttentionInputs(cos, sin, bias, is_causal, (batch, seq))
        if self.embed_dropout is not None:
            x = self.embed_dropout(x)
        # the blocks see one [B * S, hidden] token stream: their linear layers' weight
        # gradients need no reshapes (each is a host dispatch on tt)
        x = self._run_layers(x.reshape(batch * seq, -1), inputs, kv_cache)
        x = self.norm(x)
        if logits_to_keep:
            x = x.reshape(batch, seq, -1)[:, -logits_to_keep:].reshape(-1, x.shape[-1])
        logits = self.lm_head(x)
        logits = logits.reshape(batch, -1, logits.shape[-1])
        loss = None if targets is None else next_token_loss(logits, targets)
        return CausalLMOutput(loss, logits)

    def _run_layers(self, x: Tensor, inputs: AttentionInputs, kv_cache: KVCache | None) -> Tensor:
        if self.gradient_checkpointing and self.training and is_grad_enabled() and kv_cache is None:
            replay = self.config.hidden_dropout > 0
            for layer in self.layers:
                x = recompute(layer, x, lambda h, layer=layer: layer(h, inputs), replay)
            return x
        caches = kv_cache.layers if kv_cache is not None else [None] * len(self.layers)
        for layer, cache in zip(self.layers, caches):
            x = layer(x, inputs, cache)
        return x

    def _check_length(self, total: int) -> None:
        window = self.config.sliding_window
        if window is not None and total > window:
            raise NotImplementedError(
                f"{total} tokens exceed sliding_window={window} from the model config; "
                f"sliding-window attention is not supported: keep sequences <= {window}"
            )
        limit = self.config.training_length_limit
        if self.training and limit is not None and total > limit:
            raise ValueError(
                f"{total} tokens exceed max_position_embeddings="
                f"{self.config.max_position_embeddings} of this model; training on longer "
                "sequences is refused: cut the sequences (max_sequence_length)"
            )
        if self.config.family.positions == "learned" and total > self.config.max_position_embeddings:
            raise ValueError(
                f"{total} tokens exceed the {self.config.max_position_embeddings} learned "
                "positions of this model; shorten the input"
            )

    def _learned_positions(self, past: int, seq: int, positions: Tensor | None) -> Tensor:
        weight = self.embed_positions.weight
        if positions is None:
            return weight[past:past + seq]
        return F.embedding(positions, weight)

    def _rotary(self, past: int, seq: int, positions: Tensor | None,
                host_positions: Any) -> tuple[Tensor, Tensor]:
        if positions is None:
            return self.rotary(past, seq)
        source = host_positions if isinstance(host_positions, torch.Tensor) \
            else positions.to_torch()
        return self.rotary(past, seq, positions, int(source.max()))

    # ------------------------------------------------------------------ generation
    def generate(self, input_ids: Any, max_new_tokens: int, **kwargs: Any) -> torch.Tensor:
        """`ttcustom.generation.generate(self, ...)`."""
        from ttcustom.generation import generate

        return generate(self, input_ids, max_new_tokens, **kwargs)

    def extra_repr(self) -> str:
        c = self.config
        return f"model_type={c.model_type}, layers={c.num_hidden_layers}, hidden={c.hidden_size}"


def _on_device(value: Any, backend: Backend, name: str, dtype: torch.dtype | None = None
               ) -> Tensor:
    """A Tensor on `backend` from a Tensor, host torch tensor or nested list of ints; host
    values are uploaded (as `dtype` when given), device Tensors kept as they are."""
    if isinstance(value, Tensor):
        if value.backend is not backend:
            raise ValueError(f"{name} lives on backend {value.backend.name}, the model on "
                             f"{backend.name}; move it with .to()")
        return value
    if isinstance(value, (list, tuple)):
        value = torch.tensor(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a ttcustom Tensor, a torch tensor or a list, "
                        f"got {type(value).__name__}")
    return from_torch(value, dtype, backend=backend)


def _keep_mask(mask: Any, batch: int, seq: int, past: int) -> Any:
    """`attention_mask` checked against the batch, before it is uploaded: None when it is
    a host [B, past + S] mask that masks nothing (not uploaded; plain causal attention).

    A 4-D mask [B, 1, S, past + S] (True/1 = may attend) is the whole mask, causality
    included, as transformers takes custom 4-D masks (packed sequences).
    """
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        mask = torch.tensor(mask)
    shape, total = tuple(mask.shape), past + seq
    if len(shape) == 4:
        if shape != (batch, 1, seq, total):
            raise ValueError(f"4-d attention_mask has shape {shape}, expected "
                             f"{(batch, 1, seq, total)} = (batch, 1, new tokens, past + new "
                             "tokens)")
        return mask
    if shape != (batch, total):
        raise ValueError(f"attention_mask has shape {shape}, expected ({batch}, {total}) = "
                         "(batch, past + new tokens)")
    if isinstance(mask, torch.Tensor) and bool(mask.all()):
        return None
    return mask


def _attention_bias(mask: Tensor | None, seq: int, past: int, dtype: torch.dtype,
                    backend: Backend) -> tuple[Tensor | None, bool]:
    """(additive bias, is_causal) for sdpa from the uploaded keep mask, built once per
    forward for all layers. Causality is sdpa's flag where queries and keys start
    together; a chunk after cached tokens (past > 0, several new tokens) folds it into
    the bias."""
    if mask is not None and mask.ndim == 4:
        return F.attention_bias(mask, dtype), False
    batch, total = (None, past + seq) if mask is None else mask.shape
    keep = None if mask is None else mask.reshape(batch, 1, 1, total)
    if past > 0 and seq > 1:
        causal = torch.ones(seq, total).tril(past)[None, None]  # [1, 1, S, past + S]
        causal_keep = from_torch(causal, dtype, backend=backend)
        keep = causal_keep if keep is None else F.cast(keep, dtype) * causal_keep
    return (None if keep is None else F.attention_bias(keep, dtype)), past == 0


def next_token_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross entropy of logits [B, S, V] at position t against `labels[:, t + 1]` (the one
    place labels are shifted; the last position has no target), ignoring IGNORE_INDEX."""
    batch, seq, vocab = logits.shape
    pad = full((batch, 1), IGNORE_INDEX, dtype=labels.dtype, backend=labels.backend)
    shifted = F.cat([labels[:, 1:], pad], dim=1)
    return F.cross_entropy(logits.reshape(batch * seq, vocab), shifted.reshape(batch * seq),
                           ignore_index=IGNORE_INDEX)


__all__ = ["CausalLM", "CausalLMOutput", "build_block", "next_token_loss"]
