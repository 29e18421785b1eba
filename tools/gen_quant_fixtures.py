#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# gen_quant_fixtures.py - PyTorch golden values for kernels/quant.c.
#
# Regenerate (needs PyTorch; Debian: apt-get install python3-torch):
#     /usr/bin/python3 tools/gen_quant_fixtures.py > tests/golden/quant_fixtures.txt
# The output is deterministic for a given PyTorch version (fixed seed) and is
# committed, so the C tests need no PyTorch.  tests/test_quant.c parses it.
#
# What is recorded, per case: the input tensor, the scale/zero point that
# MinMaxObserver / PerChannelMinMaxObserver.calculate_qparams() give for it,
# and the output of torch.fake_quantize_per_{tensor,channel}_affine with those
# parameters, plus the number of clipped values (elements whose
# straight-through gradient is 0).  "group" cases have no PyTorch observer:
# they are computed slice by slice (groups of `group` values along a row, the
# trailing one shorter) with the per-tensor observer and fake quant.
# A case may carry a calibration tensor `c` (same shape) that the parameters
# are observed on, while `x` is the tensor fake-quantized (to force clipping).
#
# Format (whitespace-separated tokens, '#' lines are comments):
#   case NAME GRAN SYM UNSIGNED BITS QMIN QMAX ROWS COLS GROUP
#   c HEX...          optional: ROWS*COLS float32 bit patterns (calibration)
#   x HEX...          ROWS*COLS float32 bit patterns, row-major
#   p HEX ZP          one line per parameter: scale bits, zero point
#   y HEX...          ROWS*COLS float32 bit patterns, fake-quantized x
#   clipped N
#   end
# GRAN is tensor|channel|group; GROUP is 0 unless GRAN is group.
import struct
import sys
import warnings

import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver

SEED = 20240601

# (bits, symmetric, unsigned) -> PyTorch observer arguments.  quint8
# symmetric must not pass quant_min/quant_max: with a customized range
# PyTorch picks zero point (qmin + qmax) // 2 = 127 instead of 128.  The
# 4-bit unsigned symmetric case is left out for the same reason: PyTorch
# gives zero point 7, kq.h specifies 2^(b-1) = 8.
CONFIGS = [
    (8, 1, 0, dict(dtype=torch.qint8, quant_min=-127, quant_max=127), -127, 127),
    (8, 0, 0, dict(dtype=torch.qint8, quant_min=-128, quant_max=127), -128, 127),
    (8, 0, 1, dict(dtype=torch.quint8, quant_min=0, quant_max=255), 0, 255),
    (8, 1, 1, dict(dtype=torch.quint8), 0, 255),
    (4, 1, 0, dict(dtype=torch.qint8, quant_min=-7, quant_max=7), -7, 7),
    (4, 0, 0, dict(dtype=torch.qint8, quant_min=-8, quant_max=7), -8, 7),
    (4, 0, 1, dict(dtype=torch.quint8, quant_min=0, quant_max=15), 0, 15),
]


def bits(t):
    return ["%08x" % struct.unpack("<I", struct.pack("<f", v))[0]
            for v in t.flatten().tolist()]


def emit_values(out, key, t):
    words = bits(t)
    for i in range(0, len(words), 12):
        out.append((key + " " if i == 0 else "  ") + " ".join(words[i:i + 12]))


def observe_tensor(c, sym, kw):
    qs = torch.per_tensor_symmetric if sym else torch.per_tensor_affine
    obs = MinMaxObserver(qscheme=qs, **kw)
    obs(c)
    s, z = obs.calculate_qparams()
    return float(s[0]), int(z[0])


def fq_tensor(x, s, z, qmin, qmax):
    x = x.clone().requires_grad_(True)
    y = torch.fake_quantize_per_tensor_affine(x, s, z, qmin, qmax)
    y.sum().backward()
    return y.detach(), int((x.grad == 0).sum())


def run_case(out, name, gran, cfg, c, x=None, group=0):
    nbits, sym, uns, kw, qmin, qmax = cfg
    rows, cols = c.shape
    params = []
    if gran == "tensor":
        s, z = observe_tensor(c, sym, kw)
        params.append((s, z))
        y, clipped = fq_tensor(c if x is None else x, s, z, qmin, qmax)
    elif gran == "channel":
        qs = torch.per_channel_symmetric if sym else torch.per_channel_affine
        obs = PerChannelMinMaxObserver(ch_axis=0, qscheme=qs, **kw)
        obs(c)
        s, z = obs.calculate_qparams()
        params = list(zip(s.tolist(), z.tolist()))
        xx = (c if x is None else x).clone().requires_grad_(True)
        y = torch.fake_quantize_per_channel_affine(xx, s, z.to(torch.int32), 0, qmin, qmax)
        y.sum().backward()
        y, clipped = y.detach(), int((xx.grad == 0).sum())
    else:
        src = c if x is None else x
        y = torch.empty_like(src)
        clipped = 0
        for r in range(rows):
            for g0 in range(0, cols, group):
                g1 = min(g0 + group, cols)
                s, z = observe_tensor(c[r:r + 1, g0:g1], sym, kw)
                params.append((s, z))
                y[r, g0:g1], k = fq_tensor(src[r, g0:g1], s, z, qmin, qmax)
                clipped += k
    out.append("case %s %s %d %d %d %d %d %d %d %d" %
               (name, gran, sym, uns, nbits, qmin, qmax, rows, cols, group))
    if x is not None:
        emit_values(out, "c", c)
    emit_values(out, "x", c if x is None else x)
    for s, z in params:
        out.append("p %s %d" % (bits(torch.tensor([s], dtype=torch.float32))[0], z))
    emit_values(out, "y", y)
    out.append("clipped %d" % clipped)
    out.append("end")


def tie_rows(cfg, exps):
    """One row per power-of-two scale 2^e: the row's observed range makes the
    scale exactly 2^e, and the other values sit exactly on rounding ties
    (k + 1/2) * scale, so half-to-even decides every one of them."""
    _, sym, _, _, qmin, qmax = cfg
    rows = []
    for e in exps:
        s = 2.0 ** e
        if sym:
            amax = s * (qmax - qmin) / 2
            lo, hi = -amax, amax
        else:
            # lo / scale = -(even + 1/2): the zero point is itself a tie,
            # where half-to-even and half-away-from-zero disagree
            span = qmax - qmin
            a = 2 * (span // 6) + 0.5
            lo, hi = -a * s, (span - a) * s
        ties = [(k + 0.5) * s for k in range(-6, 6)]
        ties += [lo + 0.5 * s, hi - 0.5 * s, 0.0, -0.0]
        rows.append([lo, hi] + ties)
    return torch.tensor(rows, dtype=torch.float32)


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float32)

    inputs = [
        ("normal", randn(6, 23)),
        ("zeros", torch.zeros(3, 8)),
        ("const_pos", torch.full((3, 8), 3.7)),
        ("all_neg", -randn(4, 9).abs() - 0.25),
        ("tiny", randn(3, 8) * 1e-9),
        ("huge", randn(3, 8) * 1e35),
        ("subnormal", randn(3, 8) * 1e-39),
    ]
    # Per-channel stress: each row a different adversarial shape.
    mixed = torch.stack([
        torch.zeros(11),
        torch.full((11,), 0.3),
        -randn(11).abs() - 1.0,
        randn(11) * 1e-6,
        randn(11),
        torch.cat([randn(10) * 0.01, torch.tensor([40.0])]),
        torch.tensor([-0.0, 0.0, 1e-40, -1e-40, 2.5, -2.5, 0.5, 1.5, -1.5, 7.0, -7.0]),
        randn(11).abs() + 5.0,
    ])
    inputs.append(("mixed", mixed))

    out = ["# quant_fixtures.txt - PyTorch %s golden values for tests/test_quant.c"
           % torch.__version__,
           "# generated by tools/gen_quant_fixtures.py (seed %d); do not edit" % SEED,
           "# format: see the header of tools/gen_quant_fixtures.py"]
    for ci, cfg in enumerate(CONFIGS):
        tag = "b%d%s%s" % (cfg[0], "s" if cfg[1] else "a", "u" if cfg[2] else "s")
        for name, t in inputs:
            for gran in ("tensor", "channel"):
                run_case(out, "%s_%s" % (name, tag), gran, cfg, t)
        ties = tie_rows(cfg, [-3, -7, 2])
        for gran in ("tensor", "channel"):
            run_case(out, "ties_%s" % tag, gran, cfg, ties)
        # Calibrated on one tensor, applied to a wider one: values clip.
        calib = randn(4, 10)
        wide = calib * 3.0 + 0.5
        for gran in ("tensor", "channel"):
            run_case(out, "clip_%s" % tag, gran, cfg, calib, wide)
        # Groups of 32 along 80 columns: two full groups and a partial one,
        # with one group all zeros and one holding an outlier.
        grp = randn(3, 80)
        grp[1, 32:64] = 0.0
        grp[2, 70] = 25.0
        run_case(out, "group_%s" % tag, "group", cfg, grp, group=32)
        run_case(out, "group_clip_%s" % tag, "group", cfg, grp, grp * 2.0 - 0.25, group=32)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
