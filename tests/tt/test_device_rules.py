"""ttnn's device rules in the golden harness (tests/tt/rules): extracted from the installed
wheel, each mapped to Python, and enforced on calls with the rule and its source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ttnn = pytest.importorskip("ttnn")

import torch  # noqa: E402

from tests.distributed.mesh_golden import MeshGoldenTTNN  # noqa: E402
from tests.tt.golden import GoldenTTNN, HarnessViolation, HostTensor  # noqa: E402
from tests.tt.rules import extract  # noqa: E402
from tests.tt.rules.enforce import RECORD_PATH, UNMAPPED  # noqa: E402
from tests.tt.rules.mapping import MAPPING  # noqa: E402
from tests.tt.rules.predicates import Interpret  # noqa: E402
from tests.tt.rules.unshipped import HAND_RULES  # noqa: E402
from tests.tt.signatures import op_signatures  # noqa: E402

pytestmark = [pytest.mark.tt, pytest.mark.skipif(
    bool(RECORD_PATH), reason="TT_RULES_RECORD records violations instead of failing")]

LIBS = Path(ttnn.__file__).parent / "build" / "lib"


# ---------------------------------------------------------------------- the table
def test_the_committed_table_is_what_the_extractor_reads_from_the_installed_wheel():
    assert extract.extract() == json.loads(extract.TABLE.read_text()), \
        "ttnn changed: run `python -m tests.tt.rules.extract` and map the new rules"


def test_every_extracted_rule_is_mapped_to_python_or_reasoned_out():
    unmapped = [f"{r['op']}: {r['key']} ({r['file']}:{r['line']})" for r in UNMAPPED]
    assert not unmapped, "map these in tests/tt/rules/mapping.py:\n" + "\n".join(unmapped)


def test_no_mapping_entry_is_stale():
    extracted = {(r["op"], r["key"]) for r in json.loads(extract.TABLE.read_text())}
    stale = [(op, key) for op, rules in MAPPING.items() for key in rules
             if (op, key) not in extracted]
    assert not stale, f"rules no longer in the wheel's sources: {stale}"


def test_interpreted_rules_name_parameters_the_real_op_takes():
    """An Interpret entry naming no real parameter would see None and pass every call."""
    wrong = []
    for op, rules in MAPPING.items():
        if op == extract.HELPER_OP:
            continue
        names = {p for s in op_signatures(getattr(ttnn, op)) for p in s.parameters}
        wrong += [(op, m.param) for m in rules.values()
                  if isinstance(m, Interpret) and m.param not in names]
    assert not wrong


def test_a_new_rule_in_the_sources_shows_up_unmapped(tmp_path):
    source = tmp_path / "moreh" / "moreh_sum" / "device" / "moreh_sum_device_operation.cpp"
    source.parent.mkdir(parents=True)
    source.write_text('void validate(const Tensor& input) {\n'
                      '    if (input.layout() == Layout::TILE) {\n'
                      '        TT_FATAL(input.logical_shape().rank() >= 2,\n'
                      '                 "moreh_sum needs " "rank 2, got {}", 1);\n'
                      '    }\n}\n')
    [rule] = extract.extract_file(source, tmp_path, "moreh_sum")
    assert (rule["condition"], rule["message"], rule["line"], rule["guards"], rule["function"]) == (
        "input.logical_shape().rank() >= 2", "moreh_sum needs rank 2, got {}", 3,
        ["if input.layout() == Layout::TILE"], "validate")
    assert rule["key"] not in MAPPING["moreh_sum"]


@pytest.mark.parametrize("row", [r for r in HAND_RULES if r.binary],
                         ids=lambda r: f"{r.ops[0]}: {r.message[:40]}")
def test_each_hand_kept_rule_cites_a_message_of_the_wheel_binaries(row):
    assert row.message.encode() in (LIBS / row.binary).read_bytes()


# ---------------------------------------------------------------------- enforcement
@pytest.fixture
def harness():
    golden = GoldenTTNN()
    device = golden.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 1))
    golden.upload = lambda value, dtype, layout=ttnn.TILE_LAYOUT: golden.from_torch(
        value, dtype, layout=layout, device=device)
    yield golden
    golden.close_mesh_device(device)


def test_a_float32_moreh_sum_fails_with_the_rule_and_its_source_line(harness):
    x = harness.upload(torch.ones(32, 32), ttnn.float32)
    with pytest.raises(HarnessViolation, match=r'check_tensor\(input, "moreh_sum", "input", '
                       r'\{DataType::BFLOAT16, DataType::INT32\}\).*'
                       r'moreh_sum_device_operation\.cpp:\d+'):
        harness.moreh_sum(x, [1], keepdim=True)


def test_a_bfloat16_moreh_sum_passes(harness):
    x = harness.upload(torch.ones(32, 32), ttnn.bfloat16)
    assert harness.moreh_sum(x, [1], keepdim=True).value[0, 0] == 32


def test_moreh_norm_is_bfloat16_only(harness):
    x = harness.upload(torch.ones(32, 32), ttnn.float32)
    with pytest.raises(HarnessViolation, match=r'check_tensor\(input, "moreh_norm", "input"\)'):
        harness.moreh_norm(x, 2.0, dim=None)


@pytest.mark.parametrize("stats_shape, ok", [((2, 32), True), ((2, 32, 1), False)])
def test_layer_norm_stats_have_the_input_shape_without_the_normalized_dims(harness,
                                                                          stats_shape, ok):
    x = harness.upload(torch.randn(2, 32, 64), ttnn.bfloat16)
    stats = [harness.upload(torch.zeros(stats_shape), ttnn.bfloat16) for _ in range(2)]
    call = lambda: harness.moreh_layer_norm(x, 1, 1e-5, mean=stats[0], rstd=stats[1])  # noqa: E731
    if ok:
        call()
    else:
        with pytest.raises(HarnessViolation, match="mean must have logical shape"):
            call()


def test_embedding_weights_must_be_bfloat16(harness):
    ids = harness.upload(torch.zeros(1, 32, dtype=torch.int32), ttnn.uint32, ttnn.ROW_MAJOR_LAYOUT)
    weight = harness.upload(torch.randn(64, 32), ttnn.float32)
    with pytest.raises(HarnessViolation, match="Weights tensor must have BFLOAT16 dtype"):
        harness.embedding(ids, weight, layout=ttnn.TILE_LAYOUT)


@pytest.mark.parametrize("beta", [1.0, 0.0])
def test_addmm_addend_has_the_product_shape_unless_beta_is_zero(harness, beta):
    mats = [harness.upload(torch.ones(32, 32), ttnn.bfloat16) for _ in range(2)]
    addend = harness.upload(torch.ones(64, 32), ttnn.bfloat16)
    if beta == 0.0:
        assert harness.addmm(addend, *mats, beta=beta).value.shape == (32, 32)
        return
    with pytest.raises(HarnessViolation, match="input_tensor must have shape matching"):
        harness.addmm(addend, *mats, beta=beta)


@pytest.mark.parametrize("dtype, width, message", [
    (ttnn.float32, 64, "Data type of input tensor must be BFLOAT16"),
    (ttnn.bfloat16, 16, "Padding is not supported on the head_dim dimension"),
])
def test_fused_sdpa_takes_bfloat16_with_a_head_dim_of_whole_tiles(harness, dtype, width,
                                                                  message):
    q, k, v = (harness.upload(torch.randn(1, 2, 32, width), dtype) for _ in range(3))
    with pytest.raises(HarnessViolation, match=message):
        harness.transformer.scaled_dot_product_attention(q, k, v, is_causal=True)


@pytest.mark.parametrize("shape, kv_heads, message", [
    ((1, 1, 32, 8 * 64), 2, None),  # 4 + 2 * 2 heads of 64
    ((1, 1, 32, 8 * 16), 2, "heads of whole tiles"),
    ((1, 2, 32, 8 * 64), 2, "Unsupported input sequence length {} is not equal to 1"),
    ((1, 1, 32, 6 * 64 + 32), 1, "Unsupported input shape"),  # 416 columns, 6 heads
])
def test_nlp_create_qkv_heads_takes_one_fused_row_block_of_whole_tile_heads(
        harness, shape, kv_heads, message):
    x = harness.upload(torch.randn(shape), ttnn.bfloat16)
    call = lambda: harness.experimental.nlp_create_qkv_heads(  # noqa: E731
        x, num_heads=4, num_kv_heads=kv_heads, transpose_k_heads=False)
    if message is None:
        assert [tuple(t.shape) for t in call()] == [(1, 4, 32, 64), (1, 2, 32, 64),
                                                    (1, 2, 32, 64)]
    else:
        with pytest.raises(HarnessViolation, match=re.escape(message)):
            call()


@pytest.mark.parametrize("width, ok", [(64, True), (40, False)])
def test_nlp_concat_heads_takes_heads_of_whole_tiles(harness, width, ok):
    x = harness.upload(torch.randn(1, 4, 32, width), ttnn.bfloat16)
    if ok:
        assert tuple(harness.experimental.nlp_concat_heads(x).shape) == (1, 1, 32, 4 * width)
    else:
        with pytest.raises(HarnessViolation, match="heads of whole tiles"):
            harness.experimental.nlp_concat_heads(x)


@pytest.mark.parametrize("rows, ok", [(64, True), (48, False)])
def test_a_causal_softmax_mask_is_read_again_every_mask_height(harness, rows, ok):
    x = harness.upload(torch.randn(1, 2, rows, 32), ttnn.float32)
    mask = harness.upload(torch.zeros(1, 1, 32, 32), ttnn.bfloat16)
    call = lambda: harness.scale_mask_softmax(x, 0.125, mask, is_causal_mask=True)  # noqa: E731
    if ok:
        call()
    else:
        with pytest.raises(HarnessViolation, match="its height divides the input's rows of each head"):
            call()


def test_expand_of_a_rank_0_tensor_breaks_repeat(harness):
    scalar = harness.upload(torch.tensor(2.0), ttnn.bfloat16)
    with pytest.raises(HarnessViolation, match="repeat does not support rank 0 tensors"):
        harness.expand(scalar, [32, 32])


def test_float32_moreh_logsoftmax_needs_fp32_accumulation(harness):
    x = harness.upload(torch.randn(32, 32), ttnn.float32)
    with pytest.raises(HarnessViolation, match="FP32 destination accumulation must be enabled"):
        harness.moreh_logsoftmax(x, 1)
    config = ttnn.WormholeComputeKernelConfig(fp32_dest_acc_en=True)
    harness.moreh_logsoftmax(x, 1, compute_kernel_config=config)


def test_bfloat8_b_tensors_stay_tiled(harness):
    x = HostTensor(torch.ones(32, 32), ttnn.bfloat8_b, ttnn.TILE_LAYOUT)  # as the device holds it
    with pytest.raises(HarnessViolation, match="Layout must be Layout::TILE for bfloat8_b"):
        harness.to_layout(x, ttnn.ROW_MAJOR_LAYOUT)


def test_float_functions_get_float_tensors(harness):
    x = harness.upload(torch.ones(32, 32, dtype=torch.int32), ttnn.int32)
    with pytest.raises(HarnessViolation, match="does not support integer input dtype"):
        harness.exp(x)


def test_sharded_memory_configs_are_refused(harness):
    x = harness.upload(torch.ones(32, 32), ttnn.bfloat16)
    with pytest.raises(HarnessViolation, match="interleaved memory configs only"):
        harness.exp(x, memory_config=ttnn.L1_HEIGHT_SHARDED_MEMORY_CONFIG)


# ---------------------------------------------------------------------- fabric
def _mesh_sum(harness: MeshGoldenTTNN):
    device = harness.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 2))
    mapper = harness.replicate_tensor_to_mesh_mapper(device)
    x = harness.from_torch(torch.ones(32, 32), ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                           device=device, mesh_mapper=mapper)
    return harness.all_reduce(x)


def test_all_reduce_on_two_chips_needs_fabric_set_before_the_mesh_opens():
    with pytest.raises(HarnessViolation, match="fabric_config != tt_fabric::FabricConfig::DISABLED"):
        _mesh_sum(MeshGoldenTTNN((1, 2)))
    harness = MeshGoldenTTNN((1, 2))
    harness.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
    assert torch.equal(_mesh_sum(harness).shards[0].value, torch.full((32, 32), 2.0,
                                                                      dtype=torch.bfloat16))


def test_fabric_on_a_one_chip_mesh_is_refused_at_open():
    harness = GoldenTTNN()
    harness.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
    with pytest.raises(HarnessViolation, match="requires at least 2 participating chips"):
        harness.open_mesh_device(mesh_shape=ttnn.MeshShape(1, 1))


def test_fabric_cannot_change_while_a_mesh_is_open(harness):
    with pytest.raises(HarnessViolation, match="not allowed while devices are still open"):
        harness.set_fabric_config(ttnn.FabricConfig.FABRIC_1D)
