"""Differentiable ops: each a `Function` whose forward and backward use backend primitives.

`ttcustom.functional` is the public, validated entry point to these.
"""
