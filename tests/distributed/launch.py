"""Start N local ranks of a module the way torchrun does (env vars, 127.0.0.1, free port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", TTCUSTOM_BACKEND="cpu")
    env.update(extra or {})
    return env


def spawn_ranks(world_size: int, module: str, args: list[str],
                extra_env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """One process per rank, `python -m module *args`, with torchrun's variables set."""
    port = str(free_port())
    procs = []
    for rank in range(world_size):
        env = worker_env(extra_env)
        env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                   LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs: list[subprocess.Popen], timeout: float) -> list[tuple[int, str]]:
    """(returncode, stderr) of each rank; kills every rank still running at `timeout`."""
    results = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            _, err = proc.communicate()
            raise AssertionError(f"rank {procs.index(proc)} still running after {timeout} s; "
                                 f"stderr:\n{err}") from None
        results.append((proc.returncode, err))
    return results


def run_ranks(world_size: int, module: str, args: list[str], timeout: float = 60.0) -> None:
    """Run all ranks to completion; fail with every rank's stderr if one fails."""
    results = finish(spawn_ranks(world_size, module, args), timeout)
    failed = [f"rank {r} exited {rc}:\n{err}" for r, (rc, err) in enumerate(results) if rc != 0]
    assert not failed, "\n".join(failed)


def torchrun_hosts(hosts: int, module: str, args: list[str]) -> list[subprocess.Popen]:
    """`hosts` torchrun agents of one process each, meeting through c10d rendezvous on
    127.0.0.1: a multi-node launch, simulated on this machine."""
    endpoint = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", str(hosts),
               "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
               "--rdzv-id", "ttcustom-test", "-m", module, *args]
    return [subprocess.Popen(command, cwd=REPO, env=worker_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(hosts)]
