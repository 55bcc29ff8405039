"""Train TinyLM in a fresh process (for kill/resume tests).

usage: python -m tests.train.run_tiny OUTPUT_DIR [--kill-at STEP] [--kill-in-save N] [--resume]
--kill-at: SIGKILL the process when step STEP ends (before any eval/checkpoint of STEP)
--kill-in-save: SIGKILL the process in the middle of writing the N-th checkpoint
"""

import argparse
import os
import signal

import ttcustom as tc
from ttcustom.train import Callback, Trainer
from ttcustom.train import checkpoint as ckpt

from .tiny import TinyLM, counting_examples, tiny_config


class KillAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.state.step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def kill_during_save(n):
    """Let the first n-1 checkpoints through; die after the n-th one's model file."""
    original = ckpt.save_file
    calls = {"saves": 0}

    def write(tensors, path, metadata=None):
        original(tensors, path, metadata)
        if path.name == "model.safetensors":
            calls["saves"] += 1
            if calls["saves"] == n:
                os.kill(os.getpid(), signal.SIGKILL)

    ckpt.save_file = write


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--kill-in-save", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    if args.kill_in_save:
        kill_during_save(args.kill_in_save)
    tc.manual_seed(0)
    model = TinyLM()
    optimizer = tc.optim.AdamW(model.parameters(), lr=0.05)
    callbacks = [KillAt(args.kill_at)] if args.kill_at else []
    trainer = Trainer(model, optimizer, counting_examples(24), counting_examples(8, seed=1),
                      tiny_config(args.output_dir), callbacks)
    trainer.train(resume_from="latest" if args.resume else None)
    ckpt.save_checkpoint(trainer.output_dir / "final_state", model, optimizer, trainer.scheduler,
                         {"step": trainer.state.step})


if __name__ == "__main__":
    main()
