"""`DistributedError`: a collective failed, with what to look at next."""

from __future__ import annotations


class DistributedError(RuntimeError):
    """A collective failed or timed out: a peer died, stalled or disagrees on the model."""


def collective_failed(what: str, error: BaseException) -> DistributedError:
    """Wrap a transport error so the message says which rank saw what, and where to look."""
    from ttcustom.distributed.process_group import get_rank, get_world_size

    return DistributedError(
        f"rank {get_rank()} of {get_world_size()}: {what} failed: {error}\n"
        "Another process most likely died or stopped responding; its own log has the root "
        "cause. Stalled peers are given up on after the collective timeout "
        "(init_process_group(timeout=...) or TTCUSTOM_DIST_TIMEOUT seconds)."
    )
