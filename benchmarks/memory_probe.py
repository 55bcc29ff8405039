"""Peak CPU memory of one contender's training steps, measured in a fresh process.

Two figures, each from building the model, loading the workload's initial weights into
it (as a run starts from a checkpoint; the weights to load exist before measuring) and
running `steps` training steps (two reach both peaks: the first step creates the
optimizer state, the second has it during backward), one after the other in the same
process:

* `rss_peak_bytes`: what the operating system saw: the peak resident set size (Linux
  `VmHWM`, reset just before the model is built) minus the RSS at that moment (after
  every import, after the batches and weights exist, and after a one-step run of a tiny
  model of the same kind, `WARMUP_SHAPE`, which pages in the code of the kernels the
  step uses). Includes allocator overhead, Python objects and, for `compile`, the
  compiler's memory in this process (its worker processes are not counted).
* `tensor_peak_bytes`: the most bytes of torch tensors alive at once, from the CPU
  allocator's own accounting (torch.profiler's memory events, which see every tensor
  allocation and free, compiled code's included). Exact for tensors, blind to the rest;
  this is what the memory planner estimates. Measured second: the profiler's own
  bookkeeping would inflate RSS.

glibc's malloc normally raises its mmap threshold as large blocks are freed and then
keeps freed memory in its heaps, so RSS would track the allocator's history rather
than the tensors alive. The probe pins the threshold (glibc `mallopt`, the same for
every contender) so that large tensors are returned to the system when freed.

    python -m benchmarks.memory_probe --size tiny --workload scratch --contender eager
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.contenders import CONTENDERS, State, build, reference_state
from benchmarks.tiny_llama import Shape
from benchmarks.workloads import WORKLOADS, Batch, Workload, get_workload, make_batches

MMAP_THRESHOLD = 1 << 20  # tensors over 1 MiB get their own mapping, returned when freed
REPO_ROOT = Path(__file__).resolve().parents[1]
MEASURES = ("rss", "tensor")
#: a one-step run of this model before the RSS baseline pages in the code of every
#: kernel the step uses (hundreds of MB of torch's shared libraries are read lazily)
WARMUP_SHAPE = Shape(vocab=128, dim=64, heads=4, kv_heads=2, layers=1, mlp=96, seq=16)


def _pin_mmap_threshold() -> None:
    """Allocations over MMAP_THRESHOLD get their own mapping for good (glibc)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_mmap_threshold = -3
    if not libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD):
        raise RuntimeError("mallopt(M_MMAP_THRESHOLD) failed; the RSS probe needs glibc")


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}; the RSS probe needs Linux")


def _reset_peak_rss() -> int:
    """Make the peak RSS (VmHWM) start again from the current RSS, which is returned.

    Not `ru_maxrss`: Linux carries that over from the parent through fork and exec."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def tensor_peak(prof: profile) -> int:
    """Most bytes alive at once, from the allocator's alloc (+) / free (-) events."""
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    alive = peak = 0
    for _, nbytes in events:
        alive += nbytes
        peak = max(peak, alive)
    return peak


def probe(workload: Workload, contender: str, steps: int, backend: str = "cpu",
          measures: tuple[str, ...] = MEASURES) -> dict[str, int]:
    """Build `contender` and run `steps` steps in this process, once per measure (RSS
    first); returns {"rss_peak_bytes", "tensor_peak_bytes"} (those asked for)."""
    if contender == "transformers":
        import peft  # noqa: F401  (imports are part of the baseline, not of training)
        import transformers  # noqa: F401
    if contender in ("compile", "captured"):
        import torch._inductor.compile_fx  # noqa: F401
    batches = make_batches(workload, steps)
    state = reference_state(workload)  # loaded like a checkpoint, as in the speed runs

    def run(workload: Workload, batches: list[Batch], state: State | None) -> None:
        runner = build(contender, workload, state, backend)
        for batch in batches:
            runner.step(batch)

    out = {}
    if "rss" in measures:
        _pin_mmap_threshold()
        warmup = workload.replace(shape=WARMUP_SHAPE, batch=1)
        run(warmup, make_batches(warmup, 1), None)
        gc.collect()
        baseline = _reset_peak_rss()
        run(workload, batches, state)
        out["rss_peak_bytes"] = _status_bytes("VmHWM") - baseline
    if "tensor" in measures:
        gc.collect()  # earlier garbage freed inside the window would count as negative
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            run(workload, batches, state)
        out["tensor_peak_bytes"] = tensor_peak(prof)
    return out


def measure_peak(workload: Workload, contender: str, steps: int = 2, backend: str = "cpu",
                 measures: tuple[str, ...] = MEASURES) -> dict[str, int]:
    """`probe` in a fresh child process with this process's torch thread count."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    command = [sys.executable, "-m", "benchmarks.memory_probe", "--spec", workload.to_json(),
               "--contender", contender, "--steps", str(steps), "--backend", backend,
               "--measures", ",".join(measures), "--threads", str(torch.get_num_threads())]
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe of {contender} on {workload.name} failed "
                           f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full", choices=["full", "tiny"])
    parser.add_argument("--workload", default="scratch", choices=list(WORKLOADS["full"]))
    parser.add_argument("--spec", help="a Workload as JSON (overrides --size/--workload)")
    parser.add_argument("--contender", default="ttcustom", choices=CONTENDERS)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--measures", default=",".join(MEASURES), help="rss and/or tensor")
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workload = (Workload.from_json(args.spec) if args.spec
                else get_workload(args.size, args.workload))
    measures = tuple(args.measures.split(","))
    print(json.dumps(probe(workload, args.contender, args.steps, args.backend, measures)))


if __name__ == "__main__":
    main()
