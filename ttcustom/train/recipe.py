"""`ttcustom train`: build everything a run needs from a validated RunConfig.

Order matters for error reporting: the config is validated first, then the data
(tokenized and checked line by line), and only then is a model loaded or built, so a
bad line in the dataset costs seconds, not a model load.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ttcustom import random as tc_random
from ttcustom.backends import Backend, get_backend
from ttcustom.data import (
    Collator,
    DataValidationError,
    Example,
    build_tokenizer,
    chunk_text,
    load_jsonl_dataset,
    load_tokenizer,
    pack_examples,
    read_corpus,
    split_text,
)
from ttcustom.data.collate import fixed_length
from ttcustom.train.config import ArchitectureSection, RunConfig
from ttcustom.train.trainer import Trainer

log = logging.getLogger("ttcustom.train")


@dataclass
class Datasets:
    train: list[Example]
    val: list[Example] | None
    prompt_format: str


def resolve_backend(config: RunConfig) -> Backend:
    if config.device_config.enable_ddp:  # a tt mesh, or cpu/cuda in the torchrun group
        from ttcustom.distributed.training import data_parallel_backend

        return data_parallel_backend(config.device_config)
    name = config.device_config.backend
    return get_backend(None if name == "auto" else name)


def resolve_dtype(config: RunConfig) -> torch.dtype | None:
    name = config.device_config.dtype
    return None if name == "auto" else getattr(torch, name)


def resolve_tokenizer(config: RunConfig, resume: bool = False) -> Any:
    """The model directory's tokenizer, or one built for from-scratch training.

    A tokenizer built from a corpus is saved to `output_dir/tokenizer` when the run
    starts; a resumed run (`resume`) reuses it, so it tokenizes exactly as the original
    one did. A new run builds its own (a stale one would encode a new corpus as <unk>).
    """
    data, model = config.data, config.model
    spec = data.tokenizer
    path = spec.path or model.path
    kind = spec.kind
    if kind == "auto" or (kind == "bpe" and model.path):  # the tutorial's "bpe" = TinyLlama's own
        kind = "pretrained" if path else "byte"
    saved = Path(config.logging_config.output_dir) / "tokenizer"
    if resume and kind in ("char", "bpe") and (saved / "tokenizer.json").is_file():
        return load_tokenizer(saved)
    if kind in ("char", "bpe") and data.corpus is None:
        raise ValueError(f"data.tokenizer.kind {kind!r} is trained on a text corpus: set "
                         "data.corpus, or use kind 'byte' / a pretrained tokenizer path")
    vocab = spec.vocab_size or (config.architecture.vocab_size if config.architecture else None)
    return build_tokenizer(kind, path=path, corpus=[data.corpus] if data.corpus else [],
                           vocab_size=vocab)


def max_sequence_length(config: RunConfig) -> int:
    if config.training_config.max_sequence_length is not None:
        return config.training_config.max_sequence_length
    if config.model.path is not None:
        from ttcustom.models import read_config

        return read_config(config.model.path).max_position_embeddings
    return (config.architecture or ArchitectureSection()).max_seq_len


def build_datasets(config: RunConfig, tokenizer: Any) -> Datasets:
    """Tokenized, validated train/validation examples; DataValidationError on bad data."""
    data = config.data
    if data is None or (data.train_file is None and data.corpus is None):
        raise ValueError("the config has no training data: set data.train_file (JSONL) or "
                         "data.corpus (plain text), or pass --train-data")
    length = max_sequence_length(config)
    if data.corpus is not None:
        train_text, val_text = split_text(read_corpus(data.corpus), 1.0 - data.val_split)
        train = chunk_text(train_text, tokenizer, length)
        val = chunk_text(val_text, tokenizer, length)
        return Datasets(train, val, "raw")
    options = dict(tokenizer=tokenizer, max_length=length, truncate=data.truncate,
                   allow_duplicates=data.allow_duplicates, train_on_prompt=data.train_on_prompt,
                   prompt_template=data.prompt_template)
    report = load_jsonl_dataset(data.train_file, data.format, **options)
    log.info("%s", report.format_report(max_issues=20))
    if not report.ok:
        raise DataValidationError(report)
    train = report.examples
    if data.val_file is not None:
        val_report = load_jsonl_dataset(data.val_file, report.format, **options)
        if not val_report.ok:
            raise DataValidationError(val_report)
        val = val_report.examples
    else:
        train, val = split_examples(train, data.val_split, config.training_config.seed)
    if data.packing:
        train, val = pack_examples(train, length), pack_examples(val, length)
    return Datasets(train, val, report.format)


def split_examples(examples: list[Example], fraction: float, seed: int
                   ) -> tuple[list[Example], list[Example]]:
    """A seeded random `fraction` of the examples (at least one) for validation."""
    if len(examples) < 2:
        raise ValueError("need at least 2 examples to split off a validation set; add data "
                         "or give data.val_file")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    count = min(len(examples) - 1, max(1, round(fraction * len(examples))))
    held = set(order[:count])
    return ([ex for i, ex in enumerate(examples) if i not in held],
            [ex for i, ex in enumerate(examples) if i in held])


def build_model(config: RunConfig, tokenizer: Any, backend: Backend) -> Any:
    """The pretrained model at model.path, or a fresh one from model_config; LoRA applied."""
    from ttcustom import models

    dtype = resolve_dtype(config)
    if config.model.path is not None:
        model = models.from_hf(config.model.path, dtype=dtype, backend=backend)
    else:
        arch = config.architecture or ArchitectureSection()
        if len(tokenizer) > arch.vocab_size:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens but "
                             f"model_config.vocab_size is {arch.vocab_size}; raise vocab_size")
        model = models.build_model(models.ModelConfig(
            model_type=config.model.architecture, vocab_size=arch.vocab_size,
            hidden_size=arch.hidden_dim, intermediate_size=arch.mlp_dim,
            num_hidden_layers=arch.num_layers, num_attention_heads=arch.num_heads,
            num_key_value_heads=arch.num_kv_heads, max_position_embeddings=arch.max_seq_len,
            rope_theta=arch.rope_theta, norm_eps=arch.norm_eps,
            tie_word_embeddings=arch.tie_embeddings, hidden_dropout=arch.dropout,
            embedding_dropout=arch.dropout, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        ), dtype=dtype, backend=backend)
    if config.lora_enabled:
        from ttcustom.lora import apply_lora

        lora = config.lora
        targets = "all-linear" if lora.target_modules == ["all-linear"] else lora.target_modules
        apply_lora(model, r=lora.r, alpha=lora.alpha, dropout=lora.dropout,
                   target_modules=targets)
    return model


def check_sequence_length(config: RunConfig, model: Any) -> None:
    """A sequence longer than the model's positions would train positions it never had."""
    length = max_sequence_length(config)
    limit = model.config.training_length_limit
    if limit is not None and length > limit:
        raise ValueError(f"training_config.max_sequence_length {length} exceeds the model's "
                         f"max_position_embeddings {limit}; lower max_sequence_length (or "
                         "raise model_config.max_seq_len for a model trained from scratch)")


def parameter_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    """The optimizer's param groups: trainable matrices decay, 1-d tensors do not."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(config: RunConfig, model: Any) -> Any:
    """AdamW (or SGD) over the trainable parameters; no weight decay on 1-d tensors."""
    from ttcustom import optim

    t = config.training_config
    groups = parameter_groups(model, t.weight_decay)
    if t.optimizer == "sgd":
        return optim.SGD(groups, lr=t.learning_rate, momentum=t.momentum,
                         master_weights=t.master_weights)
    return optim.AdamW(groups, lr=t.learning_rate, betas=tuple(t.betas), eps=t.eps,
                       master_weights=t.master_weights)


def build_collator(tokenizer: Any, datasets: Datasets, backend: Backend) -> Collator:
    """Batches padded to their longest example; on the tt backend every batch to one
    `fixed_length` (a multiple of the 32-token tile), so a run compiles its device
    programs for one shape."""
    pad_to = None
    if backend.name == "tt":
        pad_to = fixed_length(*(d for d in (datasets.train, datasets.val) if d))
    return Collator.for_tokenizer(tokenizer, pad_to)


def build_trainer(config: RunConfig, resume: bool = False) -> Trainer:
    """Everything for `config`, in the order that reports problems earliest. Nothing is
    written to the run directory here: the trainer's `RunFiles` callback writes the
    config and the tokenizer only once the trainer's own checks (lock, earlier
    checkpoints) have passed, and the final model when the run completes."""
    backend = resolve_backend(config)
    tc_random.manual_seed(config.training_config.seed)
    tokenizer = resolve_tokenizer(config, resume)
    datasets = build_datasets(config, tokenizer)
    model = build_model(config, tokenizer, backend)
    check_sequence_length(config, model)
    optimizer = build_optimizer(config, model)
    sampler = None
    if config.device_config.enable_ddp:
        from ttcustom.distributed.training import wrap_for_training

        model, sampler = wrap_for_training(model, datasets.train, config.training_config.seed)
    return Trainer(model, optimizer, datasets.train, datasets.val, config,
                   tokenizer=tokenizer,
                   prompt_format=datasets.prompt_format,
                   prompt_template=config.data.prompt_template, sampler=sampler,
                   collator=build_collator(tokenizer, datasets, backend))


def train_from_config(config: RunConfig, resume_from: str | Path | None = None) -> Trainer:
    trainer = build_trainer(config, resume=resume_from is not None)
    trainer.train(resume_from=resume_from)
    return trainer
