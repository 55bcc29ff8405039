"""The `ttcustom` command: train, data validate, generate, export, info.

Each subcommand is a `register(subparsers)` function that adds its parser and sets
`func` (called with the parsed args, returns the exit code). Another package adds a
subcommand by appending its own `register` to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

EXIT_USAGE = 2  # bad config, bad data, bad arguments


def counting_number(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= `minimum` (argparse names the flag in its error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {minimum}")
        return value

    return parse


# ---------------------------------------------------------------------- train
def _register_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train or fine-tune from a YAML config",
                       description="Train from CONFIG.yaml. The resolved config, checkpoints, "
                       "metrics, plots and final_model/ go to logging_config.output_dir.")
    p.add_argument("config", help="YAML run config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set training_config.learning_rate=3e-4")
    p.add_argument("--resume", nargs="?", const="latest", metavar="CHECKPOINT",
                   help="resume from a checkpoint directory (default: the latest in output_dir)")
    p.add_argument("--train-data", help="shorthand for --set data.train_file=...")
    p.add_argument("--val-data", help="shorthand for --set data.val_file=...")
    p.add_argument("--output-dir", help="shorthand for --set logging_config.output_dir=...")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an output_dir that holds an earlier run's checkpoints")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from ttcustom.train.config import load_config
    from ttcustom.train.recipe import train_from_config

    shorthands = {"data.train_file": args.train_data, "data.val_file": args.val_data,
                  "logging_config.output_dir": args.output_dir}
    overrides = [*(f"{k}={v}" for k, v in shorthands.items() if v is not None), *args.overrides]
    if args.overwrite:
        overrides.append("logging_config.overwrite_output_dir=true")
    config = load_config(args.config, overrides)
    trainer = train_from_config(config, resume_from=args.resume)
    if not trainer.is_main:  # data parallel: rank 0 reports for the run
        return 0
    history = trainer.state.history
    print(f"\nfinished at step {trainer.state.step} ({trainer.state.stop_reason})")
    if history["train"]:
        print(f"  training loss   {history['train'][0][1]:.4f} -> {history['train'][-1][1]:.4f}")
    if history["val"]:
        print(f"  validation loss {history['val'][0][1]:.4f} -> {history['val'][-1][1]:.4f}")
    print(f"  run directory   {trainer.output_dir}  (final_model/, training_curves.png, "
          "metrics.jsonl)")
    return 0


# ---------------------------------------------------------------------- data
def _register_data(sub: Any) -> None:
    p = sub.add_parser("data", help="dataset tools")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    v = data_sub.add_parser("validate", help="check a JSONL dataset line by line",
                            description="Report every bad line (invalid JSON, missing/empty "
                            "field, wrong type, over max length, duplicate) and print stats. "
                            "Exit code 1 when there are errors.")
    v.add_argument("file")
    from ttcustom.data.formats import FORMAT_NAMES

    v.add_argument("--format", default="auto", choices=("auto", *FORMAT_NAMES))
    v.add_argument("--tokenizer", metavar="DIR",
                   help="model/tokenizer directory (or 'byte') for token lengths")
    v.add_argument("--max-length", type=counting_number(1), metavar="N",
                   help="token limit per example")
    v.add_argument("--truncate", action="store_true", help="count over-long examples as "
                   "truncated instead of errors")
    v.add_argument("--allow-duplicates", action="store_true")
    v.add_argument("--max-issues", type=counting_number(0), default=None,
                   help="print at most N issues")
    v.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    from ttcustom.data import byte_tokenizer, load_jsonl_dataset, load_tokenizer

    if args.max_length is not None and args.tokenizer is None:
        raise ValueError("--max-length counts tokens: give --tokenizer DIR (or 'byte') too")
    tokenizer = None
    if args.tokenizer is not None:
        tokenizer = byte_tokenizer() if args.tokenizer == "byte" else load_tokenizer(args.tokenizer)
    report = load_jsonl_dataset(args.file, args.format, tokenizer, args.max_length,
                                truncate=args.truncate, allow_duplicates=args.allow_duplicates)
    print(report.format_report(max_issues=args.max_issues))
    return 0 if report.ok else 1


# ---------------------------------------------------------------------- generate
def _register_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="answer prompts with a model directory",
                       description="Generate with a transformers-format model directory "
                       "(e.g. output/final_model). --compare prints a base model's answers "
                       "next to it.")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--prompt", action="append", required=True, help="repeat for several")
    p.add_argument("--compare", metavar="BASE_DIR", help="base model to answer the same prompts")
    p.add_argument("--format", default="auto",
                   choices=("auto", "raw", "prompt_response", "alpaca", "chat"),
                   help="how to wrap the prompt; auto = the model's chat template if it has "
                   "one, else raw")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("auto", "tt", "cpu", "cuda"), default="auto")
    p.set_defaults(func=_generate)


def _load_for_generation(directory: str, backend: str) -> tuple[Any, Any]:
    from ttcustom.data import load_tokenizer
    from ttcustom.models import from_hf

    return (from_hf(directory, backend=None if backend == "auto" else backend),
            load_tokenizer(directory))


def _generate(args: argparse.Namespace) -> int:
    from ttcustom.generation import check_sampling
    from ttcustom.train.sampling import complete

    check_sampling(args.temperature, args.top_k, args.top_p, args.max_new_tokens)
    model, tokenizer = _load_for_generation(args.model, args.backend)
    fmt = args.format
    if fmt == "auto":
        fmt = "chat" if getattr(tokenizer, "chat_template", None) else "raw"
    options = dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                   top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    base = _load_for_generation(args.compare, args.backend) if args.compare else None
    for prompt in args.prompt:
        answer = complete(model, tokenizer, prompt, fmt, **options)
        if base is None:
            print(f"Q: {prompt}\nA: {answer}\n")
            continue
        from ttcustom.data.formats import format_prompt

        # the base model gets the very text the fine-tuned model is prompted with
        text = format_prompt(prompt, fmt, tokenizer)
        base_answer = complete(base[0], base[1], text, "raw", **options)
        print(f"Q: {prompt}")
        print(side_by_side(("base: " + args.compare, base_answer),
                           ("fine-tuned: " + args.model, answer)))
        print()
    return 0


def side_by_side(left: tuple[str, str], right: tuple[str, str], width: int | None = None) -> str:
    """Two titled columns of wrapped text."""
    total = width or min(shutil.get_terminal_size((120, 24)).columns, 160)
    column = max(20, (total - 3) // 2)

    def lines(title: str, body: str) -> list[str]:
        wrapped = [row for para in body.splitlines() or [""]
                   for row in (textwrap.wrap(para, column) or [""])]
        return [title[:column], "-" * min(column, len(title)), *wrapped]

    a, b = lines(*left), lines(*right)
    a += [""] * (len(b) - len(a))
    b += [""] * (len(a) - len(b))
    return "\n".join(f"{x:<{column}} | {y}" for x, y in zip(a, b))


# ---------------------------------------------------------------------- export
def _register_export(sub: Any) -> None:
    p = sub.add_parser("export", help="export a training checkpoint for transformers/vLLM or PEFT",
                       description="CHECKPOINT is a checkpoint_step_N directory or a run "
                       "directory (its latest checkpoint). --to hf writes a transformers/vLLM "
                       "directory (LoRA merged); --to peft writes the LoRA adapter.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--to", required=True, choices=("hf", "peft"))
    p.add_argument("out", help="output directory")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"),
                   help="weights dtype for --to hf (default: the base checkpoint's)")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from ttcustom.train.export_run import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.to, args.out, args.dtype)
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------- info
def _register_info(sub: Any) -> None:
    p = sub.add_parser("info", help="versions, backend and devices")
    p.add_argument("--backend", choices=("auto", "tt", "cpu", "cuda"), default="auto")
    p.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    import platform

    import torch
    import transformers

    import ttcustom
    from ttcustom.backends import get_backend, resolve_name, tt_card_present

    try:
        import ttnn  # noqa: F401

        ttnn_status = "installed, card found" if tt_card_present() else "installed, no card found"
    except Exception as err:  # ttnn raises more than ImportError without a card
        ttnn_status = f"not available ({type(err).__name__})"
    facts = {"ttcustom": ttcustom.__version__, "python": platform.python_version(),
             "torch": torch.__version__, "transformers": transformers.__version__,
             "ttnn": ttnn_status,
             "backend": resolve_name(None if args.backend == "auto" else args.backend)}
    facts.update(get_backend(None if args.backend == "auto" else args.backend).describe())
    for key, value in facts.items():
        print(f"{key:>13}: {value}")
    return 0


# ---------------------------------------------------------------------- main
COMMANDS: list[Callable[[Any], None]] = [
    _register_train, _register_data, _register_generate, _register_export, _register_info,
]
from ttcustom.distributed.cli import register as _register_launch  # noqa: E402

COMMANDS.append(_register_launch)
from ttcustom.memory.cli import register as _register_memory  # noqa: E402

COMMANDS.append(_register_memory)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ttcustom", description="PyTorch-style training for Tenstorrent hardware "
        "(torch reference backend without a card).")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; known user errors print one message (no traceback)."""
    from ttcustom.data.validate import DataValidationError
    from ttcustom.oserrors import describe
    from ttcustom.train.config import ConfigError
    from ttcustom.train.trainer import NonFiniteLossError

    args = build_parser().parse_args(argv)
    try:
        with _terminate_as_exception():
            return args.func(args)
    except (ConfigError, DataValidationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (NonFiniteLossError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # disk full, read-only or forbidden directory, missing file
        print(f"error: {describe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated (SIGTERM); unfinished files were removed", file=sys.stderr)
        return 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so every `finally` / cleanup runs (temporary
    export and checkpoint directories are removed, the run lock released)."""


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["COMMANDS", "build_parser", "counting_number", "main", "side_by_side"]
