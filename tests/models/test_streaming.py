"""Loading streams tensor by tensor: peak host memory is about one copy of the weights."""

import subprocess
import sys
import textwrap
from pathlib import Path

import torch
import transformers

PROBE = textwrap.dedent("""
    import resource, sys
    import ttcustom.models
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = ttcustom.models.from_hf(sys.argv[1])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) * 1024)
""")


def test_peak_memory_of_from_hf_is_about_one_copy_of_the_weights(tmp_path):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=8000, hidden_size=512, intermediate_size=1536,
                                      num_hidden_layers=8, num_attention_heads=8,
                                      num_key_value_heads=2)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path)  # ~32M params, 130 MB
    weights = (tmp_path / "model.safetensors").stat().st_size
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=root,
                            capture_output=True, text=True, check=True)
    growth = int(result.stdout.strip().splitlines()[-1])
    # model (1.0x) + one tensor in flight + allocator slack; reading everything first is 2x
    assert growth < 1.5 * weights, f"peak grew by {growth / weights:.2f}x the weights"
