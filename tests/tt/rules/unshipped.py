"""Device rules of the ops whose C++ the wheel does not ship, kept by hand.

Each row cites a message (or a stringified TT_FATAL condition) that occurs verbatim in
the installed wheel's binaries (`_ttnncpp.so`, `libtt_metal.so`; test_rules.py checks it
is there) and the tt-metal source it comes from. Rows marked `harness` are not a device
rule but what the harness needs to stand in for one faithfully (said why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ttnn

from tests.tt.rules.predicates import TILE, Call, Check

TTNN_SO, METAL_SO = "_ttnncpp.so", "libtt_metal.so"
FLOAT_UNARY = ("exp", "log", "tanh", "rsqrt", "sqrt", "silu", "gelu")
BLOCK_FLOATS = (ttnn.bfloat8_b, ttnn.bfloat4_b)
BINARY = ("add", "subtract", "multiply", "divide", "multiply_", "add_", "subtract_",
          "divide_", "eq", "ne", "ge")


@dataclass(frozen=True)
class HandRule:
    """One hand-kept rule: the ops it covers, its message in `binary` ("" for a harness row,
    whose `source` says why the harness needs it), its source."""

    ops: tuple[str, ...]
    message: str
    binary: str
    source: str
    check: Check
    harness: bool = False


def _embedding_bw_index(call: Call) -> bool:
    return call["input_tensor"].value.shape[-1] % TILE == 0


def _embedding_bw_grad_rows(call: Call) -> bool:
    grad = tuple(call["output_gradient_tensor"].value.shape)
    return len(grad) == 4 and grad[2] == call["input_tensor"].value.numel()


def _rotary_tables(call: Call) -> bool:
    x = call["input_tensor"].value.shape
    return all(tuple(t.value.shape)[:2] == (1, 1) and t.value.shape[-1] == x[-1]
               for t in (call["cos_cache"], call["sin_cache"]))


def _qkv_heads_width(call: Call) -> bool:
    heads = call["num_heads"] + 2 * (call["num_kv_heads"] or call["num_heads"])
    return call["input"].padded_shape[-1] % heads == 0


def _qkv_heads_tiles(call: Call) -> bool:
    heads = call["num_heads"] + 2 * (call["num_kv_heads"] or call["num_heads"])
    return call["input"].value.shape[-1] // heads % TILE == 0


def _sdpa_chunks(call: Call) -> bool:
    return all(call[n].value.shape[-2] % TILE == 0 for n in ("input_tensor_q", "input_tensor_k"))


def _sdpa_mask(call: Call) -> bool:
    mask = call["attn_mask"]
    return mask is None or (mask.value.dim() == 4 and mask.value.shape[-2] % TILE == 0)


SDPA_QKV = ("input_tensor_q", "input_tensor_k", "input_tensor_v")
SDPA_DTYPES = (ttnn.bfloat16, ttnn.bfloat8_b, ttnn.bfloat4_b)


def _sdpa_heads(call: Call) -> bool:
    heads, kv_heads = (call[n].value.shape[1] for n in ("input_tensor_q", "input_tensor_k"))
    return kv_heads > 0 and heads % kv_heads == 0


def _sdpa_mask_heads(call: Call) -> bool:
    mask = call["attn_mask"]
    return mask is None or mask.value.shape[1] in (1, call["input_tensor_q"].value.shape[1])


def _sdpa_causal_lengths(call: Call) -> bool:
    q, k = (call[n].value.shape[-2] for n in ("input_tensor_q", "input_tensor_k"))
    return call["is_causal"] is False or q == k


def _softmax_mask_batch(call: Call) -> bool:
    mask = call["mask"]
    return mask is None or mask.value.shape[0] == call["input_tensor"].value.shape[0]


def _softmax_mask_heads(call: Call) -> bool:
    mask = call["mask"]
    return mask is None or all(n == 1 for n in mask.value.shape[1:-2])


def _softmax_causal_mask(call: Call) -> bool:
    """A causal mask is read square, in whole tiles, every mask height along each batch's
    tile-padded rows (heads included): its height divides each head's rows."""
    if not call["is_causal_mask"]:
        return True
    x, mask = call["input_tensor"].value.shape, call["mask"].value.shape
    return mask[-2] == mask[-1] == x[-1] and mask[-1] % TILE == 0 and x[-2] % mask[-2] == 0


def _mesh_devices(call: Call) -> int:
    return math.prod(call.harness.mesh_shape) if hasattr(call.harness, "mesh_shape") else 1


def _fabric_for_ccl(call: Call) -> bool:
    harness = call.harness
    return _mesh_devices(call) == 1 or harness.fabric_at_open not in (None, ttnn.FabricConfig.DISABLED)


def _same_dtypes(call: Call) -> bool:
    operands = [call[n] for n in ("input_tensor_a", "input_tensor_b", "input_a", "input_b")]
    return len({t.dtype for t in operands if hasattr(t, "dtype")}) <= 1


def _on_open_device(call: Call) -> bool:
    device = call["device"]
    return device is not None and getattr(device, "open", False)


def _addmm_input_shape(call: Call) -> bool:
    """The addend is [rows of mat1, columns of mat2] unless beta is 0 (then ignored)."""
    if call["beta"] == 0:
        return True
    out, mat1, mat2 = (call.shape(n) for n in ("input_tensor", "mat1_tensor", "mat2_tensor"))
    return out[0] == mat1[0] and out[1] == mat2[1]


def _addmm_dtype(name: str):
    def check(call: Call) -> bool:
        if name == "input_tensor" and call["beta"] == 0:
            return True
        return call[name].dtype in (ttnn.bfloat16, ttnn.float32, ttnn.bfloat8_b)
    return check


def _bmm_batches(call: Call) -> bool:
    """A second operand with batch dims > 1 needs the first's batch dims equal to them."""
    a, b = (tuple(call[n].value.shape[:-2]) for n in ("input_tensor_a", "input_tensor_b"))
    if math.prod(b) <= 1:
        return True
    width = max(len(a), len(b))
    return (1,) * (width - len(a)) + a == (1,) * (width - len(b)) + b


def _block_float_tiled(call: Call) -> bool:
    """A bfloat8_b/bfloat4_b tensor exists in TILE layout only (to_layout, from_torch)."""
    source = call["tensor"]
    dtype = call["dtype"] or getattr(source, "dtype", None)
    return dtype not in BLOCK_FLOATS or call["layout"] == ttnn.TILE_LAYOUT


def _typecast_output(call: Call) -> bool:
    target = call["dtype"] if call.has("dtype") else call["output_dtype"]
    return not call.has("output_tensor") or call["output_tensor"].dtype == target


EMB_DEV = "ttnn/cpp/ttnn/operations/embedding/device/embedding_device_operation.cpp"
EMB_BW_DEV = ("ttnn/cpp/ttnn/operations/embedding_backward/device/"
              "embedding_backward_device_operation.cpp")
ROTARY_DEV = ("ttnn/cpp/ttnn/operations/experimental/transformer/rotary_embedding/device/"
              "rotary_embedding_device_operation.cpp")
BMM_MESSAGE = ("bmm (non-bcast matmul) expects input tensors of shapes BCMK*BCKN=BCMN or batch "
               "dimension {} mismatch: a={} vs b={} (dimension mismatch only allowed when all "
               "batch dimensions of a are size 1 and using "
               "MatmulMultiCoreReuseMultiCast1DProgramConfig with fuse_batch=false, "
               "fused_activation=none, mcast_in0=false, and non-sharded inputs for in0 reuse "
               "optimization)")
SDPA_DEV = "ttnn/cpp/ttnn/operations/transformer/sdpa/device/sdpa_device_operation.cpp"
ADDMM = "ttnn/cpp/ttnn/operations/matmul/matmul.cpp (AddmmOperation::validate)"
HEADS_DEV = "ttnn/cpp/ttnn/operations/experimental/transformer/"
CREATE_HEADS_DEV = HEADS_DEV + "nlp_create_qkv_heads/device/nlp_create_qkv_heads_device_operation.cpp"
CREATE_HEADS = HEADS_DEV + "nlp_create_qkv_heads/nlp_create_qkv_heads.cpp"
CONCAT_HEADS_DEV = HEADS_DEV + "nlp_concat_heads/device/nlp_concat_heads_device_operation.cpp"
HEAD_DTYPES = (ttnn.float32, ttnn.bfloat16, ttnn.bfloat8_b)
SOFTMAX = ("softmax", "scale_mask_softmax")
SOFTMAX_DEV = ("ttnn/cpp/ttnn/operations/normalization/softmax/device/"
               "softmax_device_operation.cpp")

HAND_RULES: tuple[HandRule, ...] = (
    HandRule(("embedding",), "Weights tensor must have BFLOAT16 dtype", TTNN_SO, EMB_DEV,
             Check(lambda c: c["weight"].dtype == ttnn.bfloat16)),
    HandRule(("embedding",), "Input must be UINT32 or BFLOAT16", TTNN_SO, EMB_DEV,
             Check(lambda c: c["input_tensor"].dtype in (ttnn.uint32, ttnn.bfloat16))),
    HandRule(("embedding_bw",), "Index tensor layout must be ROW_MAJOR but got {}", TTNN_SO,
             EMB_BW_DEV, Check(lambda c: c["input_tensor"].layout == ttnn.ROW_MAJOR_LAYOUT)),
    HandRule(("embedding_bw",), "Index tensor must be UINT32 or BFLOAT16", TTNN_SO, EMB_BW_DEV,
             Check(lambda c: c["input_tensor"].dtype in (ttnn.uint32, ttnn.bfloat16))),
    HandRule(("embedding_bw",), "Number of columns in the index tensor must be divisible by "
             "tile width", TTNN_SO, EMB_BW_DEV, Check(_embedding_bw_index)),
    HandRule(("embedding_bw",), "Gradient tensor layout must be TILE but got {}", TTNN_SO,
             EMB_BW_DEV,
             Check(lambda c: c["output_gradient_tensor"].layout == ttnn.TILE_LAYOUT)),
    HandRule(("embedding_bw",), "Output gradient tensor must be BFLOAT16 or BFLOAT8_B", TTNN_SO,
             EMB_BW_DEV, Check(lambda c: c["output_gradient_tensor"].dtype
                               in (ttnn.bfloat16, ttnn.bfloat8_b))),
    HandRule(("embedding_bw",), "First two dimensions for the gradient tensor must be 1, but "
             "found {} && {}.", TTNN_SO, EMB_BW_DEV,
             Check(lambda c: tuple(c["output_gradient_tensor"].value.shape)[:2] == (1, 1))),
    HandRule(("embedding_bw",), "Number of columns in the gradient tensor must be divisible by "
             "tile width", TTNN_SO, EMB_BW_DEV,
             Check(lambda c: c["output_gradient_tensor"].value.shape[-1] % TILE == 0)),
    HandRule(("embedding_bw",), "Number of rows in gradient tensor must be equal to number of "
             "indices in index tensor", TTNN_SO, EMB_BW_DEV, Check(_embedding_bw_grad_rows)),
    HandRule(("rms_norm",), "ttnn::rms_norm does not support ROW_MAJOR input tensors. Use TILE "
             "layout.", TTNN_SO, "ttnn/cpp/ttnn/operations/normalization/rmsnorm/rmsnorm.cpp",
             Check(lambda c: c["input_tensor"].layout == ttnn.TILE_LAYOUT)),
    HandRule(("experimental.rotary_embedding",), "Inputs to rotary embedding must be tilized",
             TTNN_SO, ROTARY_DEV,
             Check(lambda c: c["input_tensor"].layout == ttnn.TILE_LAYOUT)),
    HandRule(("experimental.rotary_embedding",), "Input X dim must be divisible into tiles",
             TTNN_SO, ROTARY_DEV,
             Check(lambda c: c["input_tensor"].value.shape[-1] % (2 * TILE) == 0)),
    HandRule(("experimental.rotary_embedding",), "Cos dims must match input dims", TTNN_SO,
             ROTARY_DEV, Check(_rotary_tables)),
    HandRule(("experimental.rotary_embedding",), "Cos seq_len must be >= input seq_len. Input "
             "seq_len: {}, Cos seq_len: {}.", TTNN_SO, ROTARY_DEV,
             Check(lambda c: c["cos_cache"].value.shape[-2]
                   >= c["input_tensor"].value.shape[-2])),
    HandRule(("transformer.scaled_dot_product_attention",),
             "!(attrs.is_causal && tensors.attn_mask.has_value())", TTNN_SO, SDPA_DEV,
             Check(lambda c: not (c.has("attn_mask") and c["is_causal"] in (None, True)))),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Mask sequence length must be multiple of chunk size, got: {} and {}", TTNN_SO,
             SDPA_DEV, Check(_sdpa_mask)),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Data type of input tensor must be BFLOAT16, BFLOAT8_B, or BFLOAT4_B and is {}",
             TTNN_SO, SDPA_DEV, Check(lambda c: all(c[n].dtype in SDPA_DTYPES for n in SDPA_QKV))),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Padding is not supported on the head_dim dimension", TTNN_SO, SDPA_DEV,
             Check(lambda c: all(c[n].value.shape[-1] % TILE == 0 for n in SDPA_QKV))),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Q num_heads must be >= K num_heads and divisible by K num_heads. Got Q: {}, K: {}",
             TTNN_SO, SDPA_DEV, Check(_sdpa_heads)),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Causal SDPA requires Q and K to have the same sequence length. Got Q: {}, K: {}",
             TTNN_SO, SDPA_DEV, Check(_sdpa_causal_lengths)),
    HandRule(("transformer.scaled_dot_product_attention",),
             "When mask is provided to SDPA, it must be in BF16, BFP8, or BFP4 dataformat",
             TTNN_SO, SDPA_DEV,
             Check(lambda c: not c.has("attn_mask") or c["attn_mask"].dtype in SDPA_DTYPES)),
    HandRule(("transformer.scaled_dot_product_attention",),
             "Mask num_heads must either be 1 (to be broadcasted across all heads) or must match "
             "Q heads dimension", TTNN_SO, SDPA_DEV, Check(_sdpa_mask_heads)),
    HandRule(("transformer.scaled_dot_product_attention",),
             "q and k sequences are whole 32-row chunks", "",
             "harness: the kernel runs whole q/k chunks of the tile-padded sequence, the golden "
             "the logical one; the two agree only on aligned sequences", Check(_sdpa_chunks),
             harness=True),
    HandRule(("experimental.nlp_create_qkv_heads",), "Unsupported data format", TTNN_SO,
             CREATE_HEADS_DEV, Check(lambda c: c["input"].dtype in HEAD_DTYPES)),
    HandRule(("experimental.nlp_create_qkv_heads",), "Input tensor layout must be TILE but "
             "got {}", TTNN_SO, CREATE_HEADS_DEV,
             Check(lambda c: c["input"].layout == ttnn.TILE_LAYOUT)),
    HandRule(("experimental.nlp_create_qkv_heads",), "Unsupported input height {} is not tile "
             "aligned", TTNN_SO, CREATE_HEADS_DEV,
             Check(lambda c: c["input"].padded_shape[2] % TILE == 0)),
    HandRule(("experimental.nlp_create_qkv_heads",), "Unsupported input sequence length {} is "
             "not equal to 1", TTNN_SO, CREATE_HEADS_DEV,
             Check(lambda c: len(c["input"].value.shape) == 4 and c["input"].value.shape[1] == 1)),
    HandRule(("experimental.nlp_create_qkv_heads",), "Unsupported input shape", TTNN_SO,
             CREATE_HEADS, Check(_qkv_heads_width)),
    HandRule(("experimental.nlp_create_qkv_heads",), "heads of whole tiles", "",
             "harness: the kernel moves whole tiles of the tile-padded width (head_dim is that "
             "width over the heads), the golden splits the logical one; the two agree only on "
             "heads of whole tiles", Check(_qkv_heads_tiles), harness=True),
    HandRule(("experimental.nlp_concat_heads",), "Unsupported data format", TTNN_SO,
             CONCAT_HEADS_DEV, Check(lambda c: c["input_tensor"].dtype in HEAD_DTYPES)),
    HandRule(("experimental.nlp_concat_heads",), "Input tensor layout must be TILE but got {}",
             TTNN_SO, CONCAT_HEADS_DEV,
             Check(lambda c: c["input_tensor"].layout == ttnn.TILE_LAYOUT)),
    HandRule(("experimental.nlp_concat_heads",), "heads of whole tiles", "",
             "harness: the kernel concatenates whole tiles, so a head dim with tile padding "
             "would put that padding inside the merged rows; the golden concatenates the "
             "logical heads", Check(lambda c: c["input_tensor"].value.shape[-1] % TILE == 0),
             harness=True),
    HandRule(SOFTMAX, "Inputs to softmax must be tilized", TTNN_SO, SOFTMAX_DEV,
             Check(lambda c: c["input_tensor"].layout == ttnn.TILE_LAYOUT)),
    HandRule(SOFTMAX, "Input tensor must be FLOAT32, BFLOAT16, or BFLOAT8_B, got: {}",
             TTNN_SO, SOFTMAX_DEV, Check(lambda c: c["input_tensor"].dtype
                                         in (ttnn.float32, ttnn.bfloat16, ttnn.bfloat8_b))),
    HandRule(("scale_mask_softmax",), "Scale value must not be set when mask is not present",
             TTNN_SO, SOFTMAX_DEV, Check(lambda c: c.has("mask") or not c.has("scale"))),
    HandRule(("scale_mask_softmax",), "Input and mask batch sizes must match, got {} for input "
             "and {} for mask", TTNN_SO, SOFTMAX_DEV, Check(_softmax_mask_batch)),
    HandRule(("scale_mask_softmax",), "Non-sharded mask intermediate dimensions must be 1, got "
             "{} at dimension {}. This path requires head-uniform masks; apply a per-head bias "
             "with a separate ttnn::add before ttnn::softmax.", TTNN_SO, SOFTMAX_DEV,
             Check(_softmax_mask_heads)),
    HandRule(("scale_mask_softmax",), "the mask is BFLOAT16 or BFLOAT8_B", "",
             "harness: the op's documented mask dtypes (ttnn.scale_mask_softmax.__doc__)",
             Check(lambda c: not c.has("mask")
                   or c["mask"].dtype in (ttnn.bfloat16, ttnn.bfloat8_b)), harness=True),
    HandRule(("scale_mask_softmax",), "a causal mask is square, whole tiles, and its height "
             "divides the input's rows of each head", "",
             "harness: the kernel reads a causal mask's tile rows again every mask height "
             "along each batch's rows (normalization/softmax/device/kernels/attention/dataflow/"
             "reader_unary_interleaved_sm.cpp); the golden stands in for that only then",
             Check(_softmax_causal_mask), harness=True),
    HandRule(BINARY, "ttnn::operations::binary::utils::is_dtype_combination_supported( "
             "attributes.binary_op_type, input_tensor_a.dtype(), dtype_b)", TTNN_SO,
             "ttnn/cpp/ttnn/operations/eltwise/binary_ng/device/binary_ng_device_operation.cpp "
             "(its dtype table is not shipped: the harness requires equal operand dtypes)",
             Check(_same_dtypes), harness=True),
    HandRule(("pad",), "ttnn.pad pads the logical shape only in ROW_MAJOR", "",
             "harness: on a TILE tensor ttnn.pad extends the tile-padded shape by whole tiles "
             "(pad.cpp:372), unlike the golden's torch pad of the logical shape",
             Check(lambda c: c["input_tensor"].layout == ttnn.ROW_MAJOR_LAYOUT), harness=True),
    HandRule(("from_torch",), "from_torch uploads to the open device", "",
             "harness: every HostTensor stands for a device tensor, so an upload names the open "
             "device", Check(_on_open_device), harness=True),
    HandRule(("matmul", "linear"), BMM_MESSAGE, TTNN_SO,
             "ttnn/cpp/ttnn/operations/matmul/device/matmul_device_operation.cpp (the batch "
             "exception needs a 1-D mcast program config the backend does not pass)",
             Check(_bmm_batches)),
    HandRule(("addmm",), "alpha parameter cannot be 0", TTNN_SO, ADDMM,
             Check(lambda c: c["alpha"] != 0)),
    HandRule(("addmm",), "input_tensor must have shape matching one of result of mat1_tensor @ "
             "mat2_tensor", TTNN_SO, ADDMM, Check(_addmm_input_shape)),
    *(HandRule(("addmm",), f"only ttnn.bfloat16, ttnn.float32 and ttnn.bfloat8_b types are "
               f"supported for {name}", TTNN_SO, ADDMM, Check(_addmm_dtype(name)))
      for name in ("input_tensor", "mat1_tensor", "mat2_tensor")),
    HandRule(("to_layout", "from_torch"), "Layout must be Layout::TILE for bfloat8_b or bfloat4_b!",
             TTNN_SO, "ttnn/cpp/ttnn/tensor (tensor layout of block-float dtypes)",
             Check(_block_float_tiled)),
    HandRule(("typecast",), "Preallocated output tensor dtype {} does not match the "
             "typecast/bitcast target dtype {}.", TTNN_SO,
             "ttnn/cpp/ttnn/operations/copy/typecast/typecast.cpp", Check(_typecast_output)),
    HandRule(FLOAT_UNARY, "Unary: {} does not support integer input dtype {}", TTNN_SO,
             "ttnn/cpp/ttnn/operations/eltwise/unary/device/unary_device_operation.cpp (its "
             "per-op integer table, unary_op_supports_integer_dtype, is not shipped: the "
             "harness gives these float-only functions float tensors only)",
             Check(lambda c: c["input_tensor"].dtype in (ttnn.bfloat16, ttnn.float32,
                                                        ttnn.bfloat8_b)), harness=True),
    HandRule(("all_reduce",), "fabric_config != tt_fabric::FabricConfig::DISABLED", METAL_SO,
             "tt_metal/fabric (a CCL on more than one chip routes over fabric; tt-metal's "
             "multi-chip examples call ttnn.set_fabric_config(FABRIC_1D) before opening the mesh)",
             Check(_fabric_for_ccl)),
)
