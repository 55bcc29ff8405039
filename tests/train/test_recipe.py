"""Building a run from a config: tokenizer choice, data splits, model and optimizer."""

import pytest

from ttcustom.data import Example
from ttcustom.train.config import load_config
from ttcustom.train.recipe import (
    Datasets,
    build_collator,
    build_datasets,
    build_model,
    build_optimizer,
    resolve_backend,
    resolve_tokenizer,
    split_examples,
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 20


def scratch_config(tmp_path, **data):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    return load_config(data={
        "model_config": {"vocab_size": 300, "hidden_dim": 32, "num_layers": 1, "num_heads": 2,
                         "mlp_dim": 64, "max_seq_len": 64},
        "training_config": {"max_steps": 1, "max_sequence_length": 32},
        "data": {"corpus": str(corpus), **data},
        "logging_config": {"output_dir": str(tmp_path / "run")}})


def test_corpus_is_split_ninety_ten_into_fixed_blocks(tmp_path):
    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    datasets = build_datasets(config, resolve_tokenizer(config))
    assert {len(ex.input_ids) for ex in datasets.train + datasets.val} == {32}
    assert len(datasets.train) == int(len(TEXT) * 0.9) // 32
    assert len(datasets.val) == (len(TEXT) - int(len(TEXT) * 0.9)) // 32
    assert datasets.prompt_format == "raw"


def test_a_resumed_run_reuses_the_trained_tokenizer_of_the_run_directory(tmp_path):
    from ttcustom.data import save_tokenizer

    config = scratch_config(tmp_path, tokenizer={"kind": "bpe", "vocab_size": 270})
    first = resolve_tokenizer(config)
    save_tokenizer(first, tmp_path / "run" / "tokenizer")
    (tmp_path / "corpus.txt").write_text("completely different text " * 50)
    again = resolve_tokenizer(config, resume=True)
    assert again.get_vocab() == first.get_vocab()


def test_char_tokenizer_needs_a_corpus(tmp_path):
    config = load_config(data={"training_config": {"max_steps": 1},
                               "data": {"train_file": "x.jsonl", "tokenizer": {"kind": "char"}}})
    with pytest.raises(ValueError, match="trained on a text corpus: set data.corpus"):
        resolve_tokenizer(config)


def test_vocab_smaller_than_the_tokenizer_is_an_error(tmp_path):
    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    config.architecture.vocab_size = 100
    with pytest.raises(ValueError, match="256 tokens but model_config.vocab_size is 100"):
        build_model(config, resolve_tokenizer(config), resolve_backend(config))


def test_from_scratch_model_follows_model_config(tmp_path):
    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    model = build_model(config, resolve_tokenizer(config), resolve_backend(config))
    c = model.config
    assert (c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
            c.intermediate_size, c.max_position_embeddings) == (300, 32, 1, 2, 64, 64)
    assert c.tie_word_embeddings


def test_weight_decay_skips_norms_and_biases(tmp_path):
    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    model = build_model(config, resolve_tokenizer(config), resolve_backend(config))
    optimizer = build_optimizer(config, model)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_master_weights_gives_the_optimizer_float32_masters(tmp_path):
    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    config = config.model_copy(update={"training_config": config.training_config.model_copy(
        update={"master_weights": True})})
    model = build_model(config, resolve_tokenizer(config), resolve_backend(config))
    assert build_optimizer(config, model).master_weights


def test_validation_split_is_seeded_and_never_empty():
    examples = [Example([i], [i]) for i in range(20)]
    train, val = split_examples(examples, 0.1, seed=3)
    again_train, again_val = split_examples(examples, 0.1, seed=3)
    assert (train, val) == (again_train, again_val) and len(val) == 2
    assert sorted(e.input_ids[0] for e in train + val) == list(range(20))
    assert len(split_examples(examples[:3], 0.01, seed=0)[1]) == 1


def test_the_tutorials_config_builds_a_run_as_written(tmp_path):
    from pathlib import Path

    from ttcustom.train.recipe import build_trainer

    repo = Path(__file__).resolve().parents[2]
    config = load_config(repo / "tests/train/fixtures/tutorial_training_n150.yaml", [
        f"model.path={repo / 'examples/checkpoints/tiny-llama-starter'}",
        f"data.train_file={repo / 'examples/data/trickster_train.jsonl'}",
        "training_config.max_sequence_length=320", f"logging_config.output_dir={tmp_path}"])
    trainer = build_trainer(config)
    assert len(trainer.train_loader.dataset) == 222 and len(trainer.eval_loader.dataset) == 25
    assert trainer.eval_loader.batch_size == 2
    assert trainer.total_steps == 3 * (222 // 8 // 4)  # num_epochs: 3 ends before max_steps
    assert trainer.checkpoint_dir == tmp_path / "checkpoints"
    assert trainer.prompt_format == "prompt_response"


def test_sequences_longer_than_the_models_positions_are_refused(tmp_path):
    from ttcustom.train.recipe import check_sequence_length

    config = scratch_config(tmp_path, tokenizer={"kind": "byte"})
    model = build_model(config, resolve_tokenizer(config), resolve_backend(config))
    config.training_config.max_sequence_length = 65
    with pytest.raises(ValueError, match="max_sequence_length 65 exceeds the model's "
                       "max_position_embeddings 64"):
        check_sequence_length(config, model)


def test_off_tt_each_batch_is_padded_to_its_own_longest_example():
    import ttcustom as tc

    datasets = Datasets([Example([1, 2, 3], [1, 2, 3]), Example([4], [4])], None, "raw")
    collator = build_collator(None, datasets, tc.get_backend("cpu"))
    assert collator.pad_to is None
    assert collator(datasets.train[1:]).input_ids.shape == (1, 1)
