"""Step capture: record a training step as backend primitives once, replay it after.

`compile_step` wraps a step function; `ttcustom.capture.recorder` records, and
`ttcustom.capture.program` turns the record into straight-line code a backend can
compile (`Backend.compile_program`).
"""

from ttcustom.capture.program import Program
from ttcustom.capture.recorder import CaptureUnsupported, dynamic
from ttcustom.capture.step import CapturedStep, compile_step

__all__ = ["CaptureUnsupported", "CapturedStep", "Program", "compile_step", "dynamic"]
