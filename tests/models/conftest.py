"""The tt suites' backend fixtures, shared with the model tests that run in golden mode."""

from tests.tt.conftest import golden_backend, reference_backend  # noqa: F401
