"""Benchmarks: ttcustom against plain PyTorch in the same process (`python -m benchmarks`)."""
