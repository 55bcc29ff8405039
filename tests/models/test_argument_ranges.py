"""Generation settings and sequence lengths out of range: a ValueError naming the argument."""

import math

import pytest
import torch

from tests.models.hf_helpers import hf_model
from ttcustom.generation import generate
from ttcustom.models import from_hf


@pytest.fixture(scope="module")
def model():
    return from_hf(hf_model("llama"))


@pytest.mark.parametrize("options,match", [
    (dict(top_p=1.5), "top_p must be in"),
    (dict(top_p=0.0), "top_p must be in"),
    (dict(top_p=-1.0), "top_p must be in"),
    (dict(top_k=-3), "top_k must be an integer >= 0"),
    (dict(top_k=2.5), "top_k must be an integer >= 0"),
    (dict(max_new_tokens=-5), "max_new_tokens must be an integer >= 1"),
    (dict(max_new_tokens=0), "max_new_tokens must be an integer >= 1"),
    (dict(temperature=math.nan), "temperature must be a finite number >= 0"),
    (dict(temperature=math.inf), "temperature must be a finite number >= 0"),
    (dict(temperature=-0.5), "temperature must be a finite number >= 0"),
])
def test_out_of_range_sampling_settings_are_refused(model, options, match):
    options = {"max_new_tokens": 3, **options}
    with pytest.raises(ValueError, match=match):
        generate(model, torch.tensor([[1, 2, 3]]), **options)


def test_edge_values_are_accepted(model):
    out = generate(model, torch.tensor([[1, 2, 3]]), 1, temperature=0.7, top_k=0, top_p=1.0,
                   seed=0)
    assert out.shape == (1, 4)


def test_training_past_max_position_embeddings_is_refused(model):
    limit = model.config.max_position_embeddings
    ids = torch.zeros(1, limit + 1, dtype=torch.long)
    model.train()
    with pytest.raises(ValueError, match=f"exceed max_position_embeddings={limit}"):
        model(ids, labels=ids)
    model.eval()
