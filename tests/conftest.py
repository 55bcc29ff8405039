"""Shared fixtures: every test starts from the same seed on the CPU reference backend."""

import pytest
import torch

import ttcustom as tc


@pytest.fixture(autouse=True)
def _seeded():
    tc.manual_seed(0)
    yield


@pytest.fixture
def backend():
    return tc.get_backend("cpu")


def pytest_report_header(config):
    return f"ttcustom reference backend: torch {torch.__version__}, {torch.get_num_threads()} threads"
