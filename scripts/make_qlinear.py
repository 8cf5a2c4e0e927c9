#!/usr/bin/env python3
"""Writes src/model/qlinear.pt: the two TorchScript functions fintag needs for int8 dynamic
quantisation, which libtorch's C API (and so tch) does not expose: packing an int8 weight
for the quantised engine, and the dynamic int8 linear product (activations quantised per
batch, int8 weights per output channel, float32 out). fintag embeds the file and calls it
through tch's CModule. Run with Debian's python3-torch 1.13 (the libtorch fintag links):
    /usr/bin/python3 scripts/make_qlinear.py
"""
import os
import sys

import torch
from torch import Tensor


class QLinear(torch.nn.Module):
    @torch.jit.export
    def pack(self, w: Tensor, b: Tensor):
        """Symmetric per-output-channel int8 weights, packed for the active engine."""
        scale = w.abs().amax(1).clamp_min(1e-12) / 127.0
        zero = torch.zeros(w.size(0), dtype=torch.long)
        wq = torch.quantize_per_channel(w, scale.double(), zero, 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(wq, b)

    @torch.jit.export
    def linear(self, x: Tensor, packed: torch.classes.quantized.LinearPackedParamsBase, reduce_range: bool) -> Tensor:
        return torch.ops.quantized.linear_dynamic(x, packed, reduce_range)

    def forward(self, x: Tensor) -> Tensor:
        return x


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "model", "qlinear.pt")
    torch.jit.script(QLinear()).save(out)
    print(f"wrote {os.path.normpath(out)} (torch {torch.__version__})", file=sys.stderr)
