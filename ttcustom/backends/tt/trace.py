"""A captured step on the tt backend, replayed as a ttnn trace.

Host dispatch (Python, argument checks, program lookup, command writes) is the cost of
running thousands of small ops one by one; a trace records the commands of the whole
program once on the device and `execute_trace` replays them with one host call, the
way Tenstorrent's models run inference. The runner:

1. runs the program once as it is (every kernel compiled, the program cache warm;
   trace capture cannot compile kernels),
2. on the next call records it: `begin_trace_capture`, the program, `end_trace_capture`
   (commands are recorded, not run), then executes the trace,
3. from then on copies the new batch into the *persistent input buffers* (the
   argument arrays seen at capture, whose device addresses the trace reads) and calls
   `execute_trace` once per step.

A trace bakes in every device address and every kernel argument, so:
- inputs other than the batch (parameters, optimizer state, gradients) must be the same
  arrays at every call; when one changes (a checkpoint loaded into new arrays) the
  trace is recorded again;
- its outputs are the same arrays every step, overwritten by the next execution
  (`reuses_outputs`: the step's returned tensors are copied for the caller);
- a program with per-step scalars (AdamW's lr and step count are kernel arguments of
  `moreh_adamw`) cannot be traced and is replayed op by op instead (logged once).
The device is opened with a trace region (`TRACE_REGION_BYTES`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("ttcustom.capture")

#: device DRAM set aside for recorded traces (ttnn's default is none); a training step of
#: thousands of ops needs tens of MiB of commands. Override: TTCUSTOM_TRACE_REGION_MB.
TRACE_REGION_BYTES = int(os.environ.get("TTCUSTOM_TRACE_REGION_MB", "128")) << 20


class TraceRunner:
    """`runner(inputs, scalars) -> outputs` for `Backend.compile_program` on tt."""

    reuses_outputs = True

    def __init__(self, backend: Any, program: Any) -> None:
        self.backend = backend
        self.program = program
        self.ttnn = backend.ttnn
        self.args = [j for j, source in enumerate(program.inputs) if source[0] == "arg"]
        self.trace_id: Any = None
        self.bound: list[Any] = []
        self.outputs: tuple = ()
        self.warm = False
        self.executions = 0
        self.untraceable = None
        if program.scalar_keys:
            self.untraceable = (f"per-step scalars {program.scalar_keys} are kernel "
                                "arguments; the program is replayed op by op, not traced")
            log.info("captured step not traced: %s", self.untraceable)

    def __call__(self, inputs: list, scalars: list) -> tuple:
        if self.untraceable is not None or not self.warm:
            self.warm = True
            return self.program.function(inputs, scalars)
        if self.trace_id is None or not self._same_arrays(inputs):
            self._record(inputs, scalars)
        else:
            for j in self.args:
                self.backend.copy_(self.bound[j], inputs[j])
        mesh = self.backend.device.mesh
        self.ttnn.execute_trace(mesh, self.trace_id, cq_id=0, blocking=False)
        self.executions += 1
        return self.outputs

    def _same_arrays(self, inputs: list) -> bool:
        args = set(self.args)
        return all(a is b for j, (a, b) in enumerate(zip(inputs, self.bound)) if j not in args)

    def _record(self, inputs: list, scalars: list) -> None:
        T, mesh = self.ttnn, self.backend.device.mesh
        self.release()
        self.bound = list(inputs)  # the argument arrays become the persistent inputs
        trace_id = T.begin_trace_capture(mesh, cq_id=0)
        try:
            self.outputs = self.program.function(self.bound, scalars)
        finally:
            T.end_trace_capture(mesh, trace_id, cq_id=0)
        self.trace_id = trace_id
        log.info("recorded a ttnn trace of %d primitive calls", self.program.ops)

    def release(self) -> None:
        """Free the recorded trace (a new one is recorded on the next call)."""
        if self.trace_id is not None and self.backend.device.mesh is not None:
            self.ttnn.release_trace(self.backend.device.mesh, self.trace_id)
        self.trace_id = None


__all__ = ["TRACE_REGION_BYTES", "TraceRunner"]
