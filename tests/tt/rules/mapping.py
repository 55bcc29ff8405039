"""Each extracted rule (tests/tt/rules/extracted.json) of an op the backend calls, by its
source key, paired with its Python form (see predicates.py). Hand-kept: a ttnn upgrade
that adds or changes a rule leaves it unmapped, and test_rules.py fails until it is
mapped here. The comment after each entry is its first source line and message."""

from __future__ import annotations

import ttnn

from tests.tt.rules.predicates import (  # noqa: F401 (reasons used by the table below)
    CAPACITY,
    CODEGEN,
    COPY_DTYPE,
    FILL_PAD_DTYPES,
    GAMMA_BETA_STEP,
    INTERNAL,
    LOCAL_HELPER,
    NO_OUTPUT,
    NOT_CALLED,
    ON_DEVICE,
    ONE_MEMORY,
    ONE_RANK,
    PAD_RANK4,
    RM_PATH,
    SAME_DEVICE,
    SHARDED,
    SLICE_STRIDED_RM,
    SLICE_UNALIGNED_RM,
    TENSOR_ARGS,
    TILE_32,
    TILE_ONLY,
    TILE_PADDED,
    TRANSPOSE_PERMUTES,
    Check,
    Interpret,
    Mapped,
    Skip,
    absent,
    concat_dim_ok,
    concat_shapes_match,
    dim_in_range,
    expand_sizes_ok,
    fp32_accumulates,
    gamma_shape_ok,
    keepdim_shape_ok,
    pad_dtype_ok,
    pad_front_zero_on_tiles,
    pad_leading_unpadded,
    pad_nonnegative,
    pad_whole_tiles,
    rank,
    repeat_rm_dtype,
    reshape_volume_ok,
    same,
    slice_bounds_ok,
    slice_has_step,
    slice_ranks_ok,
    slice_steps_positive,
    stats_shape_ok,
    transpose_dims_ok,
)

MAPPING: dict[str, dict[str, Mapped]] = {
    "all_reduce": {
        "mesh_device != nullptr":
            Check(lambda c: hasattr(c["input_tensor"], "shards")),  # all_reduce.cpp:39 'Mesh device is required for all_reduce operation'
    },
    "concat": {
        "input_tensor.layout() == ttnn::TILE_LAYOUT":
            Skip(INTERNAL),  # concat.cpp:115 'ttnn.concat: expected all input tensors to be in tile layout'
        "throw: ttnn.concat: expected a tensor with device storage, but got a tensor with storage type {}":
            Skip(ON_DEVICE),  # concat.cpp:197 'ttnn.concat: expected a tensor with device storage, but got a tensor w'
        "input_tensor.logical_shape().rank() == 1":
            Skip(INTERNAL),  # concat.cpp:240 'Expected 1D tensor for unsqueeze_squeeze_1D_concat'
        "shape.rank() == 2 && shape[0] == 1":
            Skip(INTERNAL),  # concat.cpp:248 'Expected 2D tensor with first dim=1, got shape {}'
        "!input_tensors.empty()":
            Check(lambda c: len(c["tensors"]) > 0),  # concat.cpp:271 'ttnn.concat: expected a non-empty list of Tensors!'
        "!optional_output_tensor.has_value()":
            Check(lambda c: not c.has("output_tensor")),  # concat.cpp:272 'optional output tensor currently unsupported!'
        "dim >= 0 and dim < rank":
            Check(concat_dim_ok),  # concat.cpp:293 'ttnn: Dimension out of range: dim {} cannot be used for tensors of ran'
        "shapes_match":
            Check(concat_shapes_match),  # concat.cpp:317 'All dimensions must be the same size except for the dimension along wh'
        "chunk_rows > 0":
            Skip(CAPACITY),  # concat.cpp:406 'ttnn.concat: double-buffered tile-height chunk (2 x {} x {} = {} B) ex'
        "false: ConcatDeviceOperation: input_tensors cannot be empty":
            Check(lambda c: len(c["tensors"]) > 0),  # concat_device_operation.cpp:40 'ConcatDeviceOperation: input_tensors cannot be empty'
        "args.dim < shape_first.rank()":
            Check(concat_dim_ok),  # concat_device_operation.cpp:147 'ConcatDeviceOperation dim specified is larger than input tensor rank.'
        "in_ref.buffer()":
            Skip(ON_DEVICE),  # concat_device_operation.cpp:153 'Operand to concat needs to be allocated in a buffer on device.'
        "in_ref.device()":
            Skip(ON_DEVICE),  # concat_device_operation.cpp:154 'Operand to concat needs to be on device.'
        "in_ref.device() == first_input.device()":
            Skip(SAME_DEVICE),  # concat_device_operation.cpp:155 'Operands to concat need to be on the same device.'
        "in_ref.layout() == first_input.layout()":
            Check(same("layout")),  # concat_device_operation.cpp:156 'All Tensors should have same layouts.'
        "in_ref.dtype() == first_input.dtype()":
            Check(same("dtype")),  # concat_device_operation.cpp:157 'All Tensors should have same dtypes.'
        "curr_shape.rank() == shape_first.rank()":
            Check(lambda c: len({t.value.dim() for t in c["tensors"]}) == 1),  # concat_device_operation.cpp:159 'Input tensor ranks must be equal'
        "curr_shape == shape_first":
            Check(concat_shapes_match),  # concat_device_operation.cpp:169 'concat tensors differ in shape across non-concat dimensions.'
        "in_ref.is_sharded() == shard_first":
            Skip(SHARDED),  # concat_device_operation.cpp:170 'All tensors must be sharded or all must be interleaved'
        "in_ref.shard_spec().has_value()":
            Skip(SHARDED),  # concat_device_operation.cpp:172 'Sharded tensors must have a shard spec.'
        "in_ref.shard_spec().value().grid == first_input.shard_spec().value().grid":
            Skip(SHARDED),  # concat_device_operation.cpp:173 'Sharded tensors must have the same grid.'
        "in_ref.memory_config().memory_layout() == first_input.memory_config().memory_layout()":
            Skip(SHARDED),  # concat_device_operation.cpp:176 'Sharded tensors must have the same memory layout.'
        "in_ref.shard_spec().value().orientation == first_input.shard_spec().value().orientation":
            Skip(SHARDED),  # concat_device_operation.cpp:179 'Sharded tensors must have the same shard orientation.'
        "args.output_mem_config.memory_layout() == memory_layout":
            Skip(SHARDED),  # concat_device_operation.cpp:201 'Sharded output and inputs must have the same memory layout.'
        "args.output_mem_config.shard_spec().value().grid == first_input.shard_spec().value().grid":
            Skip(SHARDED),  # concat_device_operation.cpp:204 'Sharded output and inputs must have the same grid.'
        "args.output_mem_config.shard_spec().value().orientation == first_input.shard_spec().value().orientation":
            Skip(SHARDED),  # concat_device_operation.cpp:207 'Sharded output and inputs must have the same shard orientation.'
        "memory_layout == TensorMemoryLayout::HEIGHT_SHARDED || memory_layout == TensorMemoryLayout::BLOCK_SHARDED":
            Skip(SHARDED),  # concat_device_operation.cpp:212 'Only support width concat on height-sharded or block-sharded tensors.'
        "memory_layout == TensorMemoryLayout::WIDTH_SHARDED || memory_layout == TensorMemoryLayout::BLOCK_SHARDED":
            Skip(SHARDED),  # concat_device_operation.cpp:217 'Only support height concat on width-sharded or block-sharded tensors.'
        "false: Only width or height concat on sharded tensors":
            Skip(SHARDED),  # concat_device_operation.cpp:222 'Only width or height concat on sharded tensors'
        "args.groups == 1 || memory_layout == TensorMemoryLayout::HEIGHT_SHARDED":
            Skip(SHARDED),  # concat_device_operation.cpp:224 'Groups > 1 is only supported on height-sharded tensors (groups={} and '
        "tensor_args.input_tensors.size() <= 16":
            Skip(SHARDED),  # concat_device_operation.cpp:230 'Block-sharded concat supports a maximum of 16 input tensors (got {}). '
        "first_input.shard_spec().value().grid.ranges().size() == 1":
            Skip(SHARDED),  # concat_device_operation.cpp:235 'Block-sharded concat requires a single contiguous rectangular CoreRang'
        "(prefix_w * element_size) % l1_alignment == 0":
            Skip(SHARDED),  # concat_device_operation.cpp:255 'Width concat: input {} starts at column {} ({} bytes), not L1-aligned '
        "args.groups == 1":
            Skip(SHARDED),  # concat_device_operation.cpp:272 'Groups > 1 is not supported for DRAM-sharded concat (groups={} was pro'
        "!output_tensors.empty()":
            Skip(INTERNAL),  # concat_device_operation.cpp:307 'ConcatDeviceOperation::create_op_performance_model: output_tensors can'
        "input_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # concat_device_operation.cpp:430 'Input tensor must be on device'
        "!(input_tensors[0].is_sharded() && input_tensors[0].memory_config().memory_layout() == TensorMemoryLayout::BLOCK_SHARDED)":
            Skip(SHARDED),  # concat_device_operation.cpp:446 'Block-sharded concat supports at most 16 input tensors (got {}). Batch'
        "!routes_to_generic_factory || groups == 1":
            Skip(SHARDED),  # concat_device_operation.cpp:499 'Groups > 1 is not supported for DRAM-sharded concat (groups={} was pro'
        "(input_tensor.padded_shape()[dim] * input_tensor.element_size()) % input_tensor.buffer()->alignment() == 0":
            Skip(TILE_ONLY),  # concat_device_operation.cpp:581 'Current concat implementation requires aligned last dim when concattin'
    },
    "copy": {
        "input_tensor_a.dtype() == DataType::BFLOAT16 or input_tensor_a.dtype() == DataType::BFLOAT8_B or input_tensor_a.dtype() == DataType::FLOAT32 or input_tensor_a.dtype() == DataType::BFLOAT4_B or input_tensor_a.dtype() == DataType::UINT32 or input_tensor_a.dtype() == DataType::INT32 or input_tensor_a.dtype() == DataType::UINT16 or input_tensor_a.dtype() == DataType::UINT8 or input_tensor_a.dtype() == DataType::FP8_E4M3":
            Interpret("input_a"),  # copy_device_operation.cpp:81 'ttnn.copy only supports float, bfloat, fp8_e4m3, int32, uint32, uint16'
        "operation_attributes.output_dtype == DataType::BFLOAT16 or operation_attributes.output_dtype == DataType::BFLOAT8_B or operation_attributes.output_dtype == DataType::FLOAT32 or operation_attributes.output_dtype == DataType::BFLOAT4_B or operation_attributes.output_dtype == DataType::UINT32 or operation_attributes.output_dtype == DataType::INT32 or operation_attributes.output_dtype == DataType::UINT16 or operation_attributes.output_dtype == DataType::UINT8 or operation_attributes.output_dtype == DataType::FP8_E4M3":
            Interpret("input_b"),  # copy_device_operation.cpp:89 'ttnn.copy only supports float, bfloat, fp8_e4m3, int32, uint32, uint16'
        "input_tensor_a.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # copy_device_operation.cpp:101 'Operands to copy need to be on device!'
        "input_tensor_a.buffer() != nullptr":
            Skip(ON_DEVICE),  # copy_device_operation.cpp:102 'Operands to copy need to be allocated in buffers on device!'
        "out_tensor.logical_shape() == input_tensor_a.logical_shape()":
            Check(lambda c: c.shape("input_a") == c.shape("input_b")),  # copy_device_operation.cpp:108 'Input tensor shape {} does not match output t
        "input_tensor_a.layout() == out_tensor.layout()":
            Check(lambda c: c["input_a"].layout == c["input_b"].layout),  # copy_device_operation.cpp:113 'Input tensor layout ({}) must equal output 
        "out_tensor.memory_config() == operation_attributes.output_mem_config":
            Skip(ONE_MEMORY),  # copy_device_operation.cpp:119 'Mismatched output memory config. Check to see if the preallocated outp'
        "out_tensor.dtype() == operation_attributes.output_dtype":
            Skip(COPY_DTYPE),  # copy_device_operation.cpp:123 'Mismatched output dtype'
        "out_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # copy_device_operation.cpp:124 'Output tensor needs to be on device!'
        "out_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # copy_device_operation.cpp:125 'Output tensor needs to be allocated in buffers on device!'
        "out_tensor.device() == input_tensor_a.device()":
            Skip(SAME_DEVICE),  # copy_device_operation.cpp:126 'Output tensor needs to be on the same device as the input tensor!'
        "input_tensor_a.layout() == Layout::TILE":
            Check(lambda c: c["input_a"].dtype == c["input_b"].dtype or c["input_a"].layout == ttnn.TILE_LAYOUT),  # copy_device_operation.cpp:135 'On
        "input_tensor_a.tensor_spec().tile().get_tile_shape() == output_tile.get_tile_shape()":
            Skip(TILE_32),  # copy_device_operation.cpp:147 'Input and output tensors must have the same tile shape when layout is '
    },
    "expand": {
        "source_rank <= new_rank":
            Check(lambda c: rank(c, "input_tensor") <= len(c["output_shape"])),  # expand.cpp:23 'Output rank must be >= input rank for expand'
        "shape[out_idx] >= 0":
            Check(expand_sizes_ok),  # expand.cpp:38 'Expand dimension size must be -1 or non-negative (got {})'
        "src_dim == 1":
            Check(expand_sizes_ok),  # expand.cpp:40 'Only size 1 dimensions can be expanded in the output shape'
        "input_tensor_a.storage_type() == ttnn::StorageType::DEVICE":
            Skip(ON_DEVICE),  # repeat_device_operation.cpp:32 'Operands to repeat need to be on device!'
        "input_tensor_a.buffer() != nullptr":
            Skip(ON_DEVICE),  # repeat_device_operation.cpp:33 'Operands need to be allocated in buffers on device!'
        "input_tensor_a.layout() == tt::tt_metal::Layout::TILE":
            Skip(INTERNAL),  # repeat_device_operation.cpp:36 'Tile-native repeat requires TILE layout'
        "input_tensor_a.layout() == tt::tt_metal::Layout::ROW_MAJOR":
            Skip(INTERNAL),  # repeat_device_operation.cpp:38 'ROW_MAJOR repeat requires ROW_MAJOR layout'
        "input_tensor_a.dtype() == tt::tt_metal::DataType::UINT16 or input_tensor_a.dtype() == tt::tt_metal::DataType::BFLOAT16 or input_tensor_a.dtype() == tt::tt_metal::DataType::UINT32 or input_tensor_a.dtype() == tt::tt_metal::DataType::INT32 or input_tensor_a.dtype() == tt::tt_metal::DataType::FLOAT32":
            Check(repeat_rm_dtype),  # repeat_device_operation.cpp:40 'Can only work with UINT16, BFLOAT16, UINT32, INT32, FLOAT32 data types'
        "out.logical_shape() == expected_shape":
            Skip(NO_OUTPUT),  # repeat_device_operation.cpp:58 'Repeat optional output shape mismatch'
        "out.dtype() == input_tensor_a.dtype()":
            Skip(NO_OUTPUT),  # repeat_device_operation.cpp:59 'Repeat optional output dtype mismatch'
        "out.layout() == input_tensor_a.layout()":
            Skip(NO_OUTPUT),  # repeat_device_operation.cpp:60 'Repeat optional output layout mismatch'
        "out.device() == input_tensor_a.device()":
            Skip(NO_OUTPUT),  # repeat_device_operation.cpp:61 'Repeat optional output must be on the same device'
        "from_shape.rank() == to_shape.rank()":
            Skip(SHARDED),  # repeat_utils.cpp:151 'adjust_repeat_shard_spec_to_shape: rank mismatch ({} vs {})'
        "working_tensor.logical_volume() == tensor.logical_volume()":
            Skip(INTERNAL),  # repeat.cpp:133 ''
        "std::accumulate( working_repetition_vector.cbegin(), working_repetition_vector.cend(), 1, std::multiplies<uint_fast32_t>()) == total_reps":
            Skip(INTERNAL),  # repeat.cpp:134 ''
        "ndim <= 4":
            Skip(CODEGEN),  # repeat.cpp:215 'RepeatCodegen supports rank <= 4, got {}'
        "memory_config->buffer_type() == out_mc.buffer_type()":
            Skip(NO_OUTPUT),  # repeat.cpp:396 'repeat: memory_config must match optional_output_tensor memory config'
        "memory_config->nd_shard_spec() == out_mc.nd_shard_spec()":
            Skip(NO_OUTPUT),  # repeat.cpp:404 'repeat: memory_config nd_shard_spec must match optional_output_tensor'
        "per_core_allocation::is_per_core_allocation(*memory_config) == per_core_allocation::is_per_core_allocation(out_mc) && range_lockstep_allocation::is_range_lockstep_allocation(*memory_config) == range_lockstep_allocation::is_range_lockstep_allocation(out_mc)":
            Skip(NO_OUTPUT),  # repeat.cpp:410 'repeat: memory_config allocation mode must match optional_output_tenso'
        "memory_config->memory_layout() == out_mc.memory_layout()":
            Skip(NO_OUTPUT),  # repeat.cpp:417 'repeat: memory_config must match optional_output_tensor memory config'
        "memory_config->shard_spec() == out_mc.shard_spec()":
            Skip(NO_OUTPUT),  # repeat.cpp:422 'repeat: memory_config shard_spec must match optional_output_tensor'
        "out.device() == input_tensor.device()":
            Skip(NO_OUTPUT),  # repeat.cpp:433 'repeat optional output must be on the same device'
        "out.dtype() == input_tensor.dtype()":
            Skip(NO_OUTPUT),  # repeat.cpp:434 'repeat optional output dtype mismatch'
        "out.layout() == input_tensor.layout()":
            Skip(NO_OUTPUT),  # repeat.cpp:435 'repeat optional output layout mismatch'
        "out.logical_shape() == expected_logical_shape":
            Skip(NO_OUTPUT),  # repeat.cpp:436 'repeat optional output shape mismatch'
        "out.buffer() != input_tensor.buffer()":
            Skip(NO_OUTPUT),  # repeat.cpp:438 'repeat: optional_output_tensor must not alias the input buffer'
        "working_tensor.logical_shape().rank() > 0":
            Check(lambda c: rank(c, "input_tensor") > 0),  # repeat.cpp:495 'repeat does not support rank 0 tensors'
        "repeat_codegen::supported_by_codegen(working_tensor, working_repetition_vector, output_mem_config)":
            Skip(CODEGEN),  # repeat.cpp:655 'repeat_force_codegen invoked for a case the codegen path does not supp'
    },
    "fill_implicit_tile_padding": {
        "input_tensor.layout() == TILE_LAYOUT":
            Interpret("input_tensor"),  # fill_pad_device_operation.cpp:29 'FillPad should only be used for tile layout'
        "detail::data_type_to_size.contains(input_tensor.dtype())":
            Check(lambda c: c["input_tensor"].dtype in FILL_PAD_DTYPES),  # fill_pad_device_operation.cpp:30 'Unsupported datatype {}'
    },
    "moreh_adamw": {
        "check_tensor(tensor_args.param_in, \"moreh_adamw\", \"param_in\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("param_in"),  # moreh_adamw_device_operation.cpp:18 ''
        "check_tensor(tensor_args.grad, \"moreh_adamw\", \"grad\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("grad"),  # moreh_adamw_device_operation.cpp:19 ''
        "check_tensor(tensor_args.exp_avg_in, \"moreh_adamw\", \"exp_avg_in\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("exp_avg_in"),  # moreh_adamw_device_operation.cpp:20 ''
        "check_tensor(tensor_args.exp_avg_sq_in, \"moreh_adamw\", \"exp_avg_sq_in\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("exp_avg_sq_in"),  # moreh_adamw_device_operation.cpp:21 ''
        "check_tensor(tensor_args.max_exp_avg_sq_in.value(), \"moreh_adamw\", \"max_exp_avg_sq_in\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("max_exp_avg_sq_in"),  # moreh_adamw_device_operation.cpp:24 ''
        "check_tensor(tensor_args.param_out.value(), \"moreh_adamw\", \"param_out\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("param_out"),  # moreh_adamw_device_operation.cpp:32 ''
        "check_tensor(tensor_args.exp_avg_out.value(), \"moreh_adamw\", \"exp_avg_out\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("exp_avg_out"),  # moreh_adamw_device_operation.cpp:36 ''
        "check_tensor(tensor_args.exp_avg_sq_out.value(), \"moreh_adamw\", \"exp_avg_sq_out\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("exp_avg_sq_out"),  # moreh_adamw_device_operation.cpp:40 ''
        "check_tensor(tensor_args.max_exp_avg_sq_out.value(), \"moreh_adamw\", \"max_exp_avg_sq_out\", {DataType::BFLOAT16, DataType::BFLOAT8_B})":
            Interpret("max_exp_avg_sq_out"),  # moreh_adamw_device_operation.cpp:47 ''
    },
    "moreh_helpers": {
        "tensor.layout() == layout":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:255 '{} {} only supports {} layout.'
        "tensor.storage_type() == StorageType::DEVICE":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:262 '{} {} need to be on device!'
        "tensor.buffer() != nullptr":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:263 '{} {} need to be allocated in buffers on device!'
        "dtype_supported":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:285 '{} {} only supports specific data types. {} '
        "check_tensor(tensor.value(), op_name, tensor_name, data_types, layout, check_dtype, check_layout)":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:302 ''
        "(dim >= 0 && dim <= ttnn::MAX_NUM_DIMENSIONS)":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:348 'dim must be between 0 and {}.'
        "(dim < input_rank)":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:349 'dim must be smaller than input tensor rank {}.'
        "input_dim[i] == output_dim[i]":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:393 'Input dimension[{}] ({}) must equal output dimension[{}] ({})'
        "input_dim_wo_padding[i] == output_dim_wo_padding[i]":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:402 'Input dimension without padding[{}] ({}) must equal output dimension w'
        "i == padded_dim || input_shape[i] == expected_output_shape[i]":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:430 'Input shape[{}] ({}) must equal expected output shape[{}] ({}) when no'
        "i == dim || input_shape_wo_padding[i] == expected_output_shape_wo_padding[i]":
            Skip(LOCAL_HELPER),  # moreh_helper_functions.cpp:439 'Input shape without padding[{}] ({}) must equal expected output shape '
        "rank >= 2":
            Skip(NOT_CALLED),  # moreh_helper_functions.cpp:476 'Shape must have at least two dims.'
    },
    "moreh_layer_norm": {
        "tensor.layout() == Layout::TILE":
            Skip(LOCAL_HELPER),  # moreh_layer_norm_device_operation.cpp:19 '{} only supports tiled layout. Got: {}'
        "tensor.dtype() == DataType::BFLOAT16":
            Skip(LOCAL_HELPER),  # moreh_layer_norm_device_operation.cpp:20 '{} only supports bfloat16. Got: {}'
        "tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_layer_norm_device_operation.cpp:21 'Operands to {} need to be on device! Got: {}'
        "tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_layer_norm_device_operation.cpp:26 'Operands to {} need to be allocated in buffers on device!'
        "check_tensor(input, \"moreh_layer_norm\")":
            Interpret("input"),  # moreh_layer_norm_device_operation.cpp:62 ''
        "normalized_dims > 0":
            Check(lambda c: c["normalized_dims"] > 0),  # moreh_layer_norm_device_operation.cpp:66 'normalized_dims should > 0. Got {}'
        "normalized_dims <= input.padded_shape().rank()":
            Check(lambda c: c["normalized_dims"] <= max(rank(c, "input"), 2)),  # moreh_layer_norm_device_operation.cpp:67 'normalized_dims should <= 
        "check_tensor(gamma.value(), \"moreh_layer_norm\")":
            Interpret("gamma"),  # moreh_layer_norm_device_operation.cpp:74 ''
        "input.device() == gamma.value().device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_device_operation.cpp:75 'input and gamma should be on the same device.'
        "check_tensor(beta.value(), \"moreh_layer_norm\")":
            Interpret("beta"),  # moreh_layer_norm_device_operation.cpp:79 ''
        "input.device() == beta.value().device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_device_operation.cpp:80 'input and beta should be on the same device'
        "check_tensor(mean.value(), \"moreh_layer_norm\")":
            Interpret("mean"),  # moreh_layer_norm_device_operation.cpp:88 ''
        "input.device() == mean.value().device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_device_operation.cpp:89 'input and mean should be on the same device.'
        "canonicalize_shape_for_validation(mean->logical_shape()) == expected_mean_rstd_shape":
            stats_shape_ok("mean"),  # moreh_layer_norm_device_operation.cpp:90 'mean must have logical shape {}. Got {}.'
        "check_tensor(rstd.value(), \"moreh_layer_norm\")":
            Interpret("rstd"),  # moreh_layer_norm_device_operation.cpp:98 ''
        "input.device() == rstd.value().device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_device_operation.cpp:99 'input and rstd should be on the same device.'
        "canonicalize_shape_for_validation(rstd->logical_shape()) == expected_mean_rstd_shape":
            stats_shape_ok("rstd"),  # moreh_layer_norm_device_operation.cpp:100 'rstd must have logical shape {}. Got {}.'
    },
    "moreh_layer_norm_backward": {
        "check_tensor(output_grad, op_name, \"output_grad\")":
            Interpret("output_grad"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:67 ''
        "check_tensor(input, op_name, \"input\")":
            Interpret("input"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:68 ''
        "check_tensor(mean, op_name, \"mean\")":
            Interpret("mean"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:69 ''
        "check_tensor(rstd, op_name, \"rstd\")":
            Interpret("rstd"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:70 ''
        "check_tensor(gamma_grad, op_name, \"gamma_grad\")":
            Interpret("gamma_grad"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:71 ''
        "check_tensor(beta_grad, op_name, \"beta_grad\")":
            Interpret("beta_grad"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:72 ''
        "output_grad.device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:74 'output_grad and input should be on the same devic
        "mean.device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:75 'mean and input should be on the same device.'
        "rstd.device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:76 'rstd and input should be on the same device.'
        "normalized_dims > 0":
            Check(lambda c: c["normalized_dims"] > 0),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:80 'normalized_dims should > 
        "normalized_dims <= input_rank":
            Check(lambda c: c["normalized_dims"] <= max(rank(c, "input"), 2)),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:81 'n
        "is_same_shape(output_grad, input)":
            Check(lambda c: c.shape("output_grad") == c.shape("input")),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:87 'output_
        "gamma_grad.has_value() || beta_grad.has_value()":
            Skip(GAMMA_BETA_STEP),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:88 'gamma_grad and beta_grad must have values'
        "canonicalize_shape_for_validation(mean.logical_shape()) == expected_mean_rstd_shape":
            stats_shape_ok("mean"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:93 'mean must have logical shape {}. Got {}.'
        "canonicalize_shape_for_validation(rstd.logical_shape()) == expected_mean_rstd_shape":
            stats_shape_ok("rstd"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:98 'rstd must have logical shape {}. Got {}.'
        "gamma_grad->device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:105 'gamma_grad and input should be on the same devic
        "canonicalize_shape_for_validation(gamma_grad->logical_shape()) == expected_gamma_beta_shape":
            gamma_shape_ok("gamma_grad"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:106 'gamma_grad must have logical shape {}
        "beta_grad->device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:114 'beta_grad and input should be on the same device
        "canonicalize_shape_for_validation(beta_grad->logical_shape()) == expected_gamma_beta_shape":
            gamma_shape_ok("beta_grad"),  # moreh_layer_norm_backward_gamma_beta_grad_device_operation.cpp:115 'beta_grad must have logical shape {}. 
        "check_tensor(input_grad, op_name, \"input_grad\")":
            Interpret("input_grad"),  # moreh_layer_norm_backward_input_grad_device_operation.cpp:72 ''
        "check_tensor(gamma, op_name, \"gamma\")":
            Interpret("gamma"),  # moreh_layer_norm_backward_input_grad_device_operation.cpp:73 ''
        "input_grad->device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_input_grad_device_operation.cpp:105 'input_grad and input should be on the same device.'
        "is_same_shape(input_grad.value(), input)":
            Check(lambda c: not c.has("input_grad") or c.shape("input_grad") == c.shape("input")),  # moreh_layer_norm_backward_input_grad_device_oper
        "gamma->device() == input.device()":
            Skip(SAME_DEVICE),  # moreh_layer_norm_backward_input_grad_device_operation.cpp:110 'gamma and input should be on the same device.'
        "canonicalize_shape_for_validation(gamma->logical_shape()) == expected_gamma_shape":
            gamma_shape_ok("gamma"),  # moreh_layer_norm_backward_input_grad_device_operation.cpp:111 'gamma must have logical shape {}. Got {}.'
    },
    "moreh_logsoftmax": {
        "input.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_softmax_device_operation.cpp:97 'Operands to softmax need to be on device!'
        "input.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_softmax_device_operation.cpp:98 'Operands to softmax need to be allocated in buffers on device!'
        "(input.layout() == Layout::TILE)":
            Interpret("input_tensor"),  # moreh_softmax_device_operation.cpp:99 'Inputs to softmax must be tilized'
        "input.dtype() == DataType::BFLOAT16 || input.dtype() == DataType::BFLOAT8_B || input.dtype() == DataType::FLOAT32":
            Interpret("input_tensor"),  # moreh_softmax_device_operation.cpp:100 'Inputs must be of bfloat16, bfloat8_b or float32 type. Received: {}'
        "dim >= 0 && dim < rank":
            Check(dim_in_range("dim", "input_tensor")),  # moreh_softmax_device_operation.cpp:107 'dim {} should be less than output tensor rank {}'
        "strategy == MorehSoftmaxOpParallelizationStrategy::SMALL_H || strategy == MorehSoftmaxOpParallelizationStrategy::LARGE_H":
            Skip(INTERNAL),  # moreh_softmax_device_operation.cpp:162 'Invalid parallelization strategy. {} is not for dim H'
        "is_moreh_softmax_h_small_available(input, compute_kernel_config)":
            Skip(INTERNAL),  # moreh_softmax_device_operation.cpp:169 'not enough circular buffer memory for {}'
        "strategy == MorehSoftmaxOpParallelizationStrategy::SMALL_W || strategy == MorehSoftmaxOpParallelizationStrategy::LARGE_W":
            Skip(INTERNAL),  # moreh_softmax_device_operation.cpp:175 'Invalid parallelization strategy. {} is not for dim W'
        "is_moreh_softmax_w_small_available(input, compute_kernel_config)":
            Skip(INTERNAL),  # moreh_softmax_device_operation.cpp:182 'not enough circular buffer memory for {}'
        "strategy == MorehSoftmaxOpParallelizationStrategy::LARGE_C":
            Skip(INTERNAL),  # moreh_softmax_device_operation.cpp:188 'Invalid parallelization strategy. large c is for dim 0 to (rank - 3)'
        "throw: FP32 destination accumulation must be enabled when input tensor has FLOAT32 data type. Please update the compute kernel configuration.":
            Check(fp32_accumulates),  # softmax_c_large.cpp:58 'FP32 destination accumulation must be enabled when input tensor has FL'
        "throw: Core not in specified core ranges":
            Skip(INTERNAL),  # softmax_c_large.cpp:245 'Core not in specified core ranges'
    },
    "moreh_nll_loss": {
        "divisor_tensor.has_value()":
            Check(lambda c: str(c["reduction"]) != "mean" or c.has("divisor_tensor")),  # moreh_nll_loss.cpp:30 'Divisor tensor must not be empty'
        "target_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_step1_device_operation.cpp:16 'Operands to nll_loss need to be on device!'
        "target_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_step1_device_operation.cpp:17 'Operands to nll_loss need to be allocated in buffers on device!'
        "(target_tensor.layout() == Layout::TILE)":
            Interpret("target_tensor"),  # moreh_nll_loss_step1_device_operation.cpp:18 'target_tensor to nll_loss must be tilized'
        "weight_tensor.value().storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_step1_device_operation.cpp:21 'Operands to nll_loss need to be on device!'
        "weight_tensor.value().buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_step1_device_operation.cpp:23 'Operands to nll_loss need to be allocated in buffers on device!'
        "weight_tensor.value().dtype() == DataType::BFLOAT16":
            Interpret("weight_tensor"),  # moreh_nll_loss_step1_device_operation.cpp:26 'weight tensor dtype must be bfloat16'
        "input_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_step2_device_operation.cpp:20 'intput_tensor to nll_loss need to be on device!'
        "input_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_step2_device_operation.cpp:21 'intput_tensor to nll_loss need to be allocated in buffers on device!'
        "(input_tensor.layout() == Layout::TILE)":
            Interpret("input_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:22 'intput_tensor to nll_loss must be tilized'
        "input_tensor.dtype() == DataType::BFLOAT16":
            Interpret("input_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:23 'input tensor type must be bfloat16'
        "target_tensor.dtype() == DataType::INT32":
            Interpret("target_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:28 'target tensor type must be int32'
        "(weight_tensor.value().layout() == Layout::TILE)":
            Interpret("weight_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:37 'weight_tensor to nll_loss must be in row major layout'
        "divisor_tensor.value().storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_step2_device_operation.cpp:43 'divisor_tensor to nll_loss need to be on device!'
        "divisor_tensor.value().buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_step2_device_operation.cpp:46 'divisor_tensor to nll_loss need to be allocated in buffers on device!'
        "(divisor_tensor.value().layout() == Layout::TILE)":
            Interpret("divisor_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:49 'divisor_tensor to nll_loss must be tilized'
        "divisor_tensor.value().dtype() == DataType::BFLOAT16":
            Interpret("divisor_tensor"),  # moreh_nll_loss_step2_device_operation.cpp:50 'divisor tensor type must be bfloat16'
    },
    "moreh_nll_loss_backward": {
        "target_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:19 'Operands to nll_loss need to be on device!'
        "target_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:20 'Operands to nll_loss need to be allocated in buffers on device!'
        "(target_tensor.layout() == Layout::TILE)":
            Interpret("target_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:21 'target_tensor to nll_loss must be tilized'
        "target_tensor.dtype() == DataType::INT32":
            Interpret("target_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:22 'Invalid target_tensor dtype {}'
        "output_grad_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:24 'Operands to nll_loss need to be on device!'
        "output_grad_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:25 'Operands to nll_loss need to be allocated in buffers on device!'
        "(output_grad_tensor.layout() == Layout::TILE)":
            Interpret("output_grad_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:26 'target_tensor to nll_loss must be tilized'
        "output_grad_tensor.dtype() == DataType::BFLOAT16":
            Interpret("output_grad_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:27 'Invalid output_grad_tensor dtype {}'
        "input_grad_tensor.value().storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:33 'Operands to nll_loss need to be on device!'
        "input_grad_tensor.value().buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:36 'Operands to nll_loss need to be allocated in buffers on device!'
        "(input_grad_tensor.value().layout() == Layout::TILE)":
            Interpret("input_grad_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:39 'target_tensor to nll_loss must be tilized'
        "input_grad_tensor.value().dtype() == DataType::BFLOAT16":
            Interpret("input_grad_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:40 'Invalid input_grad_tensor dtype {}'
        "weight_tensor.value().storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:47 'weight_tensor to nll_loss need to be on device!'
        "weight_tensor.value().buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:50 'weight_tensor to nll_loss need to be allocated in buffers on device!'
        "(weight_tensor.value().layout() == Layout::TILE)":
            Interpret("weight_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:53 'weight_tensor to nll_loss must be in tilized'
        "weight_tensor.value().dtype() == DataType::BFLOAT16":
            Interpret("weight_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:54 'Invalid weight_tensor dtype {}'
        "divisor_tensor.value().storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:61 'divisor_tensor to nll_loss need to be on device!'
        "divisor_tensor.value().buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_nll_loss_backward_device_operation.cpp:64 'divisor_tensor to nll_loss need to be allocated in buffers on device!
        "(divisor_tensor.value().layout() == Layout::TILE)":
            Interpret("divisor_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:67 'divisor_tensor to nll_loss must be tilized'
        "divisor_tensor.value().dtype() == DataType::BFLOAT16":
            Interpret("divisor_tensor"),  # moreh_nll_loss_backward_device_operation.cpp:68 'Invalid divisor_tensor dtype {}'
        "false: moreh_nll_loss_backward not support creating output tensors.":
            Check(lambda c: c.has("input_grad_tensor")),  # moreh_nll_loss_backward_device_operation.cpp:87 'moreh_nll_loss_backward not support creat
    },
    "moreh_norm": {
        "(dim >= 0 && dim <= ttnn::MAX_NUM_DIMENSIONS)":
            Check(dim_in_range("dim", "input")),  # moreh_norm_device_operation.cpp:26 'dim must be between 0 and {}.'
        "(dim < input_rank)":
            Check(dim_in_range("dim", "input")),  # moreh_norm_device_operation.cpp:27 'dim must be smaller than input tensor rank {}.'
        "check_tensor(input, \"moreh_norm\", \"input\")":
            Interpret("input"),  # moreh_norm_device_operation.cpp:35 ''
        "check_tensor(output, \"moreh_norm\", \"output\")":
            Interpret("output", output=True),  # moreh_norm_device_operation.cpp:36 ''
        "validate_output_with_keepdim(input, output.value(), dim, operation_attributes.keepdim)":
            Check(keepdim_shape_ok),  # moreh_norm_device_operation.cpp:39 ''
    },
    "moreh_sgd": {
        "check_tensor(params_in, \"moreh_sgd\", \"params_in\", {DataType::BFLOAT16})":
            Interpret("param_in"),  # moreh_sgd_device_operation.cpp:19 ''
        "check_tensor(grad, \"moreh_sgd\", \"grad\", {DataType::BFLOAT16})":
            Interpret("grad"),  # moreh_sgd_device_operation.cpp:20 ''
        "check_tensor(*tensor_args.momentum_buffer_in, \"moreh_sgd\", \"momentum_buffer_in\", {DataType::BFLOAT16})":
            Interpret("momentum_buffer_in"),  # moreh_sgd_device_operation.cpp:23 ''
        "check_tensor(tensor_args.param_out.value(), \"moreh_sgd\", \"param_out\", {DataType::BFLOAT16})":
            Interpret("param_out"),  # moreh_sgd_device_operation.cpp:27 ''
        "check_tensor(tensor_args.momentum_buffer_out.value(), \"moreh_sgd\", \"momentum_buffer_out\", {DataType::BFLOAT16})":
            Interpret("momentum_buffer_out"),  # moreh_sgd_device_operation.cpp:31 ''
    },
    "moreh_softmax_backward": {
        "output_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_softmax_backward_device_operation.cpp:72 'Operands to softmax need to be on device!'
        "output_grad_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # moreh_softmax_backward_device_operation.cpp:73 'Operands to softmax need to be on device!'
        "output_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_softmax_backward_device_operation.cpp:74 'Operands to softmax need to be allocated in buffers on device!'
        "output_grad_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # moreh_softmax_backward_device_operation.cpp:75 'Operands to softmax need to be allocated in buffers on device!'
        "(output_tensor.layout() == Layout::TILE)":
            Interpret("output_tensor"),  # moreh_softmax_backward_device_operation.cpp:76 'Output to softmax must be tilized'
        "(output_grad_tensor.layout() == Layout::TILE)":
            Interpret("output_grad_tensor"),  # moreh_softmax_backward_device_operation.cpp:77 'Output_grad to softmax must be tilized'
        "output_tensor.dtype() == DataType::BFLOAT16 || output_tensor.dtype() == DataType::BFLOAT8_B":
            Interpret("output_tensor"),  # moreh_softmax_backward_device_operation.cpp:78 'Output_tensor dtype should be bfloat16 or bfloat8_b'
        "output_grad_tensor.dtype() == DataType::BFLOAT16 || output_grad_tensor.dtype() == DataType::BFLOAT8_B":
            Interpret("output_grad_tensor"),  # moreh_softmax_backward_device_operation.cpp:81 'Output_tensor_grad dtype should be bfloat16 or bfloat8
        "dim >= 0 && dim < rank":
            Check(dim_in_range("dim", "output_tensor")),  # moreh_softmax_backward_device_operation.cpp:87 'dim {} should be less than output tensor r
        "strategy == MorehSoftmaxBackwardOpParallelizationStrategy::SMALL_H || strategy == MorehSoftmaxBackwardOpParallelizationStrategy::LARGE_H":
            Skip(INTERNAL),  # moreh_softmax_backward_device_operation.cpp:143 'Invalid parallelization strategy. {} is not for dim H'
        "is_moreh_softmax_backward_h_small_available(output)":
            Skip(INTERNAL),  # moreh_softmax_backward_device_operation.cpp:150 'not enough circular buffer memory for {}'
        "strategy == MorehSoftmaxBackwardOpParallelizationStrategy::SMALL_W || strategy == MorehSoftmaxBackwardOpParallelizationStrategy::LARGE_W":
            Skip(INTERNAL),  # moreh_softmax_backward_device_operation.cpp:156 'Invalid parallelization strategy. {} is not for dim W'
        "is_moreh_softmax_backward_w_small_available(output)":
            Skip(INTERNAL),  # moreh_softmax_backward_device_operation.cpp:163 'not enough circular buffer memory for {}'
        "strategy == MorehSoftmaxBackwardOpParallelizationStrategy::LARGE_C":
            Skip(INTERNAL),  # moreh_softmax_backward_device_operation.cpp:169 'Invalid parallelization strategy. large c is for dim 0 - (rank - 3)'
        "throw: Core not in specified core ranges":
            Skip(INTERNAL),  # softmax_backward_c_large.cpp:204 'Core not in specified core ranges'
    },
    "moreh_sum": {
        "check_tensor(input, \"moreh_sum\", \"input\", {DataType::BFLOAT16, DataType::INT32})":
            Interpret("input"),  # moreh_sum_device_operation.cpp:47 ''
        "check_tensor(output, \"moreh_sum\", \"output\", {DataType::BFLOAT16, DataType::INT32})":
            Interpret("output", output=True),  # moreh_sum_device_operation.cpp:48 ''
        "validate_input_with_dim(input, operation_attributes.dim)":
            Check(dim_in_range("dim", "input")),  # moreh_sum_device_operation.cpp:50 ''
        "validate_output_with_keepdim(input, output.value(), operation_attributes.dim, operation_attributes.keepdim)":
            Check(keepdim_shape_ok),  # moreh_sum_device_operation.cpp:53 ''
    },
    "pad": {
        "throw: Unsupported layout for pad":
            Check(lambda c: c["input_tensor"].layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT)),  # pad_device_operation.cpp:110 'Unsupported layou
        "logical_rank == padded_rank":
            Skip(ONE_RANK),  # pad_device_operation.cpp:120 'ttnn.pad: logical and padded shapes must have the same rank'
        "input_tensor.logical_shape().rank() <= 4":
            Skip(PAD_RANK4),  # pad_device_operation.cpp:121 'ttnn.pad: input tensor rank currently must be 4 or less'
        "input_tensor.storage_type() == ttnn::StorageType::DEVICE":
            Skip(ON_DEVICE),  # pad_device_operation.cpp:122 'Operand to pad needs to be on device!'
        "input_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # pad_device_operation.cpp:123 'Operand to pad needs to be allocated in a buffer on device!'
        "input_tensor.layout() == tt::tt_metal::Layout::TILE || input_tensor.layout() == tt::tt_metal::Layout::ROW_MAJOR":
            Check(lambda c: c["input_tensor"].layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT)),  # pad_device_operation.cpp:124 'Error'
        "(operation_attributes.input_tensor_start[0] == 0 && operation_attributes.input_tensor_start[1] == 0 && operation_attributes.input_tensor_start[2] == 0 && operation_attributes.input_tensor_start[3] == 0)":
            Check(pad_front_zero_on_tiles),  # pad_device_operation.cpp:128 'On device padding only supports padding at end of dims'
        "input_tensor.logical_shape()[0] + operation_attributes.input_tensor_start[0] <= operation_attributes.output_padded_shape[0]":
            Check(pad_nonnegative),  # pad_device_operation.cpp:133 'Output size cannot fit input with offset'
        "input_tensor.logical_shape()[1] + operation_attributes.input_tensor_start[1] <= operation_attributes.output_padded_shape[1]":
            Check(pad_nonnegative),  # pad_device_operation.cpp:137 'Output size cannot fit input with offset'
        "input_tensor.logical_shape()[2] + operation_attributes.input_tensor_start[2] <= operation_attributes.output_padded_shape[2]":
            Check(pad_nonnegative),  # pad_device_operation.cpp:141 'Output size cannot fit input with offset'
        "input_tensor.logical_shape()[3] + operation_attributes.input_tensor_start[3] <= operation_attributes.output_padded_shape[3]":
            Check(pad_nonnegative),  # pad_device_operation.cpp:145 'Output size cannot fit input with offset'
        "(operation_attributes.output_padded_shape[2] % TILE_HEIGHT == 0)":
            Check(pad_whole_tiles),  # pad_device_operation.cpp:151 'Can only pad tilized tensor with full tiles'
        "(operation_attributes.output_padded_shape[3] % TILE_WIDTH == 0)":
            Check(pad_whole_tiles),  # pad_device_operation.cpp:154 'Can only pad tilized tensor with full tiles'
        "input_tensor.dtype() == DataType::FLOAT32 || input_tensor.dtype() == DataType::BFLOAT16 || input_tensor.dtype() == DataType::INT32 || input_tensor.dtype() == DataType::UINT32 || input_tensor.dtype() == DataType::UINT16 || input_tensor.dtype() == DataType::BFLOAT8_B":
            Check(pad_dtype_ok),  # pad_device_operation.cpp:157 'Cannot pad tilized tensor with specified format'
        "input_tensor.dtype() == DataType::FLOAT32 || input_tensor.dtype() == DataType::BFLOAT16 || input_tensor.dtype() == DataType::INT32 || input_tensor.dtype() == DataType::UINT32 || input_tensor.dtype() == DataType::UINT16":
            Check(pad_dtype_ok),  # pad_device_operation.cpp:163 'Cannot pad RM tensor with specified format'
        "input_tensor.memory_config().memory_layout() == TensorMemoryLayout::INTERLEAVED":
            Check(absent("sub_core_grids")),  # pad_device_operation.cpp:172 'ttnn.pad: Input memory layout must be interleaved when sub_core_grids '
        "operation_attributes.output_mem_config.memory_layout() == TensorMemoryLayout::INTERLEAVED":
            Check(absent("sub_core_grids")),  # pad_device_operation.cpp:175 'ttnn.pad: Output memory layout must be interleaved when sub_core_grids'
        "operation_attributes.use_multicore":
            Check(absent("sub_core_grids")),  # pad_device_operation.cpp:178 'ttnn.pad: sub_core_grids is only supported when use_multicore is true'
        "page_size_bytes == input_tensor.buffer()->aligned_page_size()":
            Skip(SHARDED),  # pad_device_operation.cpp:189 'Input row-major shard width {} gives page size {} bytes, which must be'
        "output_page_size_bytes == tt::align(output_page_size_bytes, alignment_requirement)":
            Skip(SHARDED),  # pad_device_operation.cpp:204 'Output row-major shard width {} gives page size {} bytes, which must b'
        "rank > 4 && dim >= 0 && dim < rank - 3":
            Skip(INTERNAL),  # pad.cpp:106 'pad_leading_dimension_via_reshape: expected dim in [0, rank-3), got di'
        "rank == 4":
            Skip(INTERNAL),  # pad.cpp:193 'ttnn.pad: input tensor passed to pad_impl must have rank == 4, but got'
        "not(height_distinct(input_logical_shape, output_shape_width_padded) and width_distinct(input_logical_shape, output_shape_width_padded))":
            Skip(SHARDED),  # pad.cpp:259 'infinite recursion'
        "not(height_distinct(output_padded_shape, output_shape_width_padded) and width_distinct(output_padded_shape, output_shape_width_padded))":
            Skip(SHARDED),  # pad.cpp:273 'infinite recursion'
        "padding.size() == original_rank":
            Check(lambda c: c["padding"] is None or len(c["padding"]) <= rank(c, "input_tensor")),  # pad.cpp:326 'ttnn.pad: padding must be the same 
        "std::all_of(padding.begin(), padding.begin() + static_cast<std::ptrdiff_t>(extra_index), is_unpadded) && (!axis0_is_merged || is_unpadded(padding[extra_index]))":
            Check(pad_leading_unpadded),  # pad.cpp:350 'ttnn.pad: padding on the leading dimensions of a rank {} tensor must b'
        "target_height % ttnn::TILE_SIZE == 0 && target_width % ttnn::TILE_SIZE == 0":
            Check(pad_whole_tiles),  # pad.cpp:372 'ttnn.pad: for tiled tensors padding end must be a multiple of the tile'
        "output_logical_shape.volume() == output_tensor.padded_shape().volume()":
            Skip(INTERNAL),  # pad.cpp:435 'ttnn.pad: restored shape {} does not match the padded output volume of'
        "front_padding_is_zero":
            Check(pad_front_zero_on_tiles),  # pad.cpp:454 'ttnn.pad: on device tile padding does not support front padding'
        "diff > 0":
            Check(lambda c: c["padding"] is None or len(c["padding"]) <= rank(c, "input_tensor")),  # pad.cpp:542 "ttnn.pad: padding len can't be larg
        "first_pad_idx >= original_rank - 3":
            Check(pad_leading_unpadded),  # pad.cpp:562 'ttnn::pad only supports padding on the lowest 3 dimensions for host te'
    },
    "permute": {
        "attributes.dims.size() == tensor_args.input_tensor.logical_shape().rank()":
            Check(lambda c: len(c["dims"]) == rank(c, "input_tensor")),  # permute_device_operation.cpp:47 'Permute dimensions must match input tensor
        "dims.size() == 4":
            Skip(INTERNAL),  # permute.cpp:85 'Only 4D tensor are supported for permute.'
        "input_rank == dims.size()":
            Check(lambda c: len(c["dims"]) == rank(c, "input_tensor")),  # permute.cpp:216 'The number of dimensions in the tensor input does not matc
        "is_device_tensor(input_tensor)":
            Skip(ON_DEVICE),  # permute.cpp:219 'Tensor must already be on device'
        "dims.size() <= 4":
            Skip(INTERNAL),  # permute.cpp:231 'Minimum rank of tensor required is 4'
        "memory_config->shard_spec()->shape[1] * input_tensor.element_size() % (l1_alignment) == 0":
            Skip(SHARDED),  # permute.cpp:249 'Shard page size must be aligned to {}B for L1 Tensor'
    },
    "transpose": {
        "throw: Unsupported transpose dim":
            Skip(INTERNAL),  # transpose_device_operation.cpp:58 'Unsupported transpose dim'
        "throw: Unsupported parallelization strategy":
            Skip(INTERNAL),  # transpose_device_operation.cpp:362 'Unsupported parallelization strategy'
        "throw: Unsupported transpose dim for parallelization strategy":
            Skip(INTERNAL),  # transpose_device_operation.cpp:372 'Unsupported transpose dim for parallelization st'
        "input_tensor.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # transpose_device_operation.cpp:382 'Operands to transpose need to be on device!'
        "input_tensor.buffer() != nullptr":
            Skip(ON_DEVICE),  # transpose_device_operation.cpp:383 'Operands to transpose need to be allocated in buf'
        "!(dim != TransposeOpDim::HC && pad_value != 0.0f)":
            Check(lambda c: not c["pad_value"]),  # transpose_device_operation.cpp:384 'Non-zero padding {} is not supported for any trans'
        "dim == TransposeOpDim::HC || dim == TransposeOpDim::WH || dim == TransposeOpDim::CN":
            Skip(TRANSPOSE_PERMUTES),  # transpose_device_operation.cpp:388 'Transpose HC, WH, CN are the only supported transp'
        "W % TILE_WIDTH == 0 && H % TILE_HEIGHT == 0":
            Skip(TILE_PADDED),  # transpose_device_operation.cpp:398 'Tiled tensor H {} W {} must be a multiple of TILE'
        "input_tensor.physical_volume() % TILE_HW == 0":
            Skip(TILE_PADDED),  # transpose_device_operation.cpp:405 'Tiled tensor volume {} must be a multiple of TILE '
        "from_shape.rank() == to_shape.rank()":
            Skip(SHARDED),  # transpose_utils.cpp:114 'adjust_shard_spec_to_shape: from_shape rank ({}) '
        "normalized_dim1 <= 3":
            Check(transpose_dims_ok),  # transpose.cpp:296 'dimension has to be 0-3 only corresponding to N,C,H,W'
        "normalized_dim2 <= 3":
            Check(transpose_dims_ok),  # transpose.cpp:297 'dimension has to be 0-3 only corresponding to N,C,H,W'
        "normalized_dim1 != normalized_dim2":
            Skip("equal dims return the input before this branch (transpose.cpp:304)"),  # transpose.cpp:318 'Unsupported transpose dims'
    },
    "repeat_interleave": {
        "repeat_interleave_codegen::supported_by_codegen(input_a, repeats, dim, output_mem_config)":
            Skip(CODEGEN),  # repeat_interleave.cpp:276 'repeat_interleave_force_codegen invoked for a case the codegen path do'
    },
    "reshape": {
        "input_tensor_a.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # reshape_device_operation.cpp:23 'Operands to reshape need to be on device!'
        "input_tensor_a.buffer() != nullptr":
            Skip(ON_DEVICE),  # reshape_device_operation.cpp:24 'Operands need to be allocated in buffers on device!'
        "input_tensor_a.dtype() == DataType::BFLOAT16 or input_tensor_a.dtype() == DataType::UINT32 or input_tensor_a.dtype() == DataType::FLOAT32 or input_tensor_a.dtype() == DataType::INT32":
            Interpret("input_tensor"),  # reshape_device_operation.cpp:25 'Can only work with bfloat16/float32 or int32/uint32 tensors'
        "(shape.rank() != 0)":
            Skip(INTERNAL),  # reshape.cpp:39 "Can't collapse rank 0 tensor shape"
        "shape.rank() >= 2":
            Skip(INTERNAL),  # reshape.cpp:77 'has_inner_2d_tile_padding requires rank >= 2'
        "memory_config.shard_spec().has_value()":
            Skip(SHARDED),  # reshape.cpp:104 'ttnn.reshape: sharded output memory_config (layout={}) was supplied wi'
        "false: Unsupported memory layout {}: expected BLOCK_SHARDED, HEIGHT_SHARDED, or WIDTH_SHARDED":
            Skip(SHARDED),  # reshape.cpp:213 'Unsupported memory layout {}: expected BLOCK_SHARDED, HEIGHT_SHARDED, '
        "!sub_core_grid.has_value()":
            Skip(SHARDED),  # reshape.cpp:230 'Sharded reshape does not support sub core grid specification\\n'
        "(logical_shape.rank() != 0)":
            Skip(RM_PATH),  # reshape.cpp:266 "Can't do reshape to rank 0 tensor"
        "(tensor.logical_shape().rank() != 0)":
            Skip(RM_PATH),  # reshape.cpp:293 "Can't do reshape from rank 0 tensor"
        "tensor.layout() == ttnn::ROW_MAJOR_LAYOUT":
            Skip(RM_PATH),  # reshape.cpp:294 'Wrong layout in `reshape_rm` `'
        "false: Only one dimension can be inferred in reshape":
            Check(lambda c: list(c["shape"]).count(-1) <= 1),  # reshape.cpp:347 'Only one dimension can be inferred in reshape'
        "logical_shape.volume() == 0":
            Check(reshape_volume_ok),  # reshape.cpp:618 "Tensor volume is 0, but shape's volume is not"
        "logical_shape.volume() != 0":
            Check(reshape_volume_ok),  # reshape.cpp:621 'Tensor volume is not 0, but shape volume is 0'
        "false: Attempting to reshape between two shapes with different volumes":
            Check(reshape_volume_ok),  # reshape.cpp:736 'Attempting to reshape between two shapes with different volumes'
        "throw: {}":
            Check(lambda c: list(c["shape"]).count(-1) <= 1),  # reshape_common.cpp:28 '{}'
        "new_volume == old_volume":
            Check(reshape_volume_ok),  # reshape_common.cpp:50 'Invalid arguments to reshape'
        "old_volume % new_volume == 0":
            Check(reshape_volume_ok),  # reshape_common.cpp:52 'Invalid arguments to reshape'
    },
    "slice": {
        "tensor_args.input.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # slice_device_operation.cpp:103 'Operands to unpad need to be on device!'
        "tensor_args.input.buffer() != nullptr":
            Skip(ON_DEVICE),  # slice_device_operation.cpp:104 'Operands to unpad need to be allocated in buffers on device!'
        "tensor_args.input.layout() == Layout::TILE || tensor_args.input.layout() == Layout::ROW_MAJOR":
            Check(lambda c: c["input_tensor"].layout in (ttnn.TILE_LAYOUT, ttnn.ROW_MAJOR_LAYOUT)),  # slice_device_operation.cpp:105 'Input tensor la
        "!args.use_tensor_args || tensor_args.input.layout() == Layout::TILE":
            Skip(TENSOR_ARGS),  # slice_device_operation.cpp:113 'Tensor-args slice does not currently support non-TILE inputs, but got '
        "tensor_args.input.padded_shape().rank() == args.slice_start.rank() && args.slice_start.rank() == args.slice_end.rank()":
            Check(slice_ranks_ok),  # slice_device_operation.cpp:117 'Input tensor rank ({}), slice start rank ({}), and slice end rank ({})'
        "args.slice_start[i] < tensor_args.input.padded_shape()[i]":
            Check(slice_bounds_ok),  # slice_device_operation.cpp:125 'Slice start[{}] ({}) must be less than input tensor shape[{}] ({})'
        "args.slice_end[i] <= tensor_args.input.padded_shape()[i]":
            Check(slice_bounds_ok),  # slice_device_operation.cpp:132 'Ends {} must be less than or equal to the shape of the tensor {}'
        "args.slice_start[i] <= args.slice_end[i]":
            Check(slice_bounds_ok),  # slice_device_operation.cpp:138 'Slice start[{}] ({}) must be <= slice end[{}] ({})'
        "out_tensor.padded_shape() == spec_required.padded_shape()":
            Check(absent("output_tensor")),  # slice_device_operation.cpp:152 'The preallocated output tensor needs a padded shape of {}, however it '
        "out_tensor.logical_shape() == spec_required.logical_shape()":
            Check(absent("output_tensor")),  # slice_device_operation.cpp:164 'The preallocated output tensor needs a logical shape of {}, however it'
        "out_tensor.tensor_spec().tensor_layout() == spec_required.tensor_layout()":
            Check(absent("output_tensor")),  # slice_device_operation.cpp:178 'The preallocated output tensor needs a layout of {}, however it is {}'
        "distribution.has_value() && distribution->num_shards() % distribution->num_cores() == 0":
            Skip(SHARDED),  # slice_device_operation.cpp:192 'Slice output ND shard spec {} is CONTIGUOUS_1D but splits the output s'
        "tensor_args.input.layout() == Layout::ROW_MAJOR":
            Skip(SLICE_STRIDED_RM),  # slice_device_operation.cpp:204 'Strided slice is only supported for row major layout'
        "args.step.size() == args.slice_end.rank()":
            Check(slice_ranks_ok),  # slice_device_operation.cpp:208 'Number of steps {} must match number of ends/starts {}'
        "tile.get_height() == TILE_HEIGHT && tile.get_width() == TILE_WIDTH":
            Skip(TILE_32),  # slice_device_operation.cpp:219 'slice does not currently support tiles other than 32x32, got {}x{}'
        "tensor_args.input.physical_volume() % TILE_HW == 0":
            Skip(TILE_PADDED),  # slice_device_operation.cpp:224 'Input tensor physical volume ({}) must be divisible by TILE_HW ({})'
        "(output_tensor_shape[-2] % TILE_HEIGHT == 0) && (args.slice_start[-2] % TILE_HEIGHT == 0)":
            Skip(SLICE_UNALIGNED_RM),  # slice_device_operation.cpp:229 'Can only slice tilized tensor with height begin index aligned to tiles'
        "(output_tensor_shape[-1] % TILE_WIDTH == 0) && (args.slice_start[-1] % TILE_WIDTH == 0)":
            Skip(SLICE_UNALIGNED_RM),  # slice_device_operation.cpp:232 'Can only slice tilized tensor with width begin index aligned to tiles'
        "args.step[i] > 0":
            Check(slice_steps_positive),  # slice_device_operation.cpp:238 'Step({}) = {} should be positive'
        "args.slice_dim.has_value() && args.num_devices.has_value()":
            Skip(TENSOR_ARGS),  # slice_device_operation.cpp:250 'slice_dim and num_devices must be provided for tensor args path'
        "slice_dimension < out_shape.size()":
            Skip(TENSOR_ARGS),  # slice_device_operation.cpp:260 'slice_dim ({}) must be less than tensor rank ({})'
        "original_size % num_parts == 0":
            Skip(TENSOR_ARGS),  # slice_device_operation.cpp:269 'Input dimension {} (size={}) must be evenly divisible by num_devices ('
        "input_rank == begins.size()":
            Check(slice_ranks_ok),  # slice.cpp:125 'Input rank {} and begins {} must have the same size'
        "begins.size() == ends.size()":
            Check(slice_ranks_ok),  # slice.cpp:127 'Start {} and end {} must have the same size'
        "step.size() == begins.size()":
            Check(slice_ranks_ok),  # slice.cpp:128 'Step {} must have the same size as start {} and end'
        "shard_spec_val.num_cores() == grid_h * grid_w":
            Skip(SHARDED),  # slice.cpp:299 'BLOCK_SHARDED grid must be a full rectangle; got {} cores for {}x{} bo'
        "input.dtype() != DataType::BFLOAT8_B":
            Check(lambda c: c["input_tensor"].dtype != ttnn.bfloat8_b or not slice_has_step(c)),  # slice.cpp:391 'Strided slice is not supported for 
        "modified_ends[i] >= modified_begins[i]":
            Check(slice_bounds_ok),  # slice.cpp:409 'End {} must be greater than or equal to start {}'
        "input.storage_type() == StorageType::DEVICE":
            Skip(ON_DEVICE),  # slice.cpp:425 'Host tensor slice cannot return a scalar or empty tensor'
        "output_tensor_start.logical_shape().rank() == 1":
            Skip(TENSOR_ARGS),  # slice.cpp:500 'The start tensor for slicing must be in 1D shape, but got {}D'
        "output_tensor_end.logical_shape().rank() == 1":
            Skip(TENSOR_ARGS),  # slice.cpp:504 'The end tensor for slicing must be in 1D shape, but got {}D'
        "input_tensor.storage_type() == StorageType::DEVICE":
            Skip(TENSOR_ARGS),  # slice.cpp:528 'Input tensor must be on device for tensor args slice'
        "slice_dim.has_value() && num_devices.has_value()":
            Skip(TENSOR_ARGS),  # slice.cpp:536 'slice_dim and num_devices must be provided for device-only tensor args'
        "output_tensor_start.storage_type() == StorageType::DEVICE":
            Skip(TENSOR_ARGS),  # slice.cpp:540 'Start tensor must be on device for tensor args slice'
        "output_tensor_end.storage_type() == StorageType::DEVICE":
            Skip(TENSOR_ARGS),  # slice.cpp:543 'End tensor must be on device for tensor args slice'
    },
}
# same sources and parameter names as moreh_softmax_backward
MAPPING["moreh_logsoftmax_backward"] = MAPPING["moreh_softmax_backward"]
