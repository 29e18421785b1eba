#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
# gen_calib_fixtures.py - numpy golden values for engine/calib.c.
#
# Regenerate (needs numpy only; Debian: apt-get install python3-numpy):
#     /usr/bin/python3 tools/gen_calib_fixtures.py > tests/golden/calib_fixtures.txt
# The output is deterministic (fixed seed) and committed, so the C tests need
# no Python.  tests/test_calib.c parses it.
#
# Everything here is computed independently of calib.c, from the definitions:
#
#   histograms  numpy.histogram of the finite values, 2048 bins, over
#               [min, max] (signed) and over [0, max |x|] (magnitudes).
#   percentile  the quantile of a histogram whose mass is spread uniformly
#               inside each bin (linear interpolation within the bin that
#               holds the target rank q * n).  symmetric: the P quantile a of
#               |x|, range [-a, a]; otherwise the (100 - P) and P quantiles of
#               the signed histogram.  Clamped to [min, max].
#   entropy     a literal transcription of MXNet's _get_optimal_threshold /
#               _smooth_distribution (the loop TVM copied), applied to the
#               |x| histogram the way the TensorRT slides state it: candidate
#               i = n..2048 keeps bins [0, i) with the outliers sum(h[i:])
#               folded into bin i-1; Q merges the *unfolded* bins in groups of
#               i // n, the remainder joining the last group, and spreads each
#               group's count evenly over the group's bins where P != 0;
#               P and Q are smoothed (zeros -> 1e-4, that mass taken evenly
#               off the non-zeros) and KL(P || Q) of the normalised pair is
#               minimised, first minimum on ties.  The threshold is the right
#               edge of the last kept bin, hist_edges[i] = i * amax / 2048
#               (MXNet's side; the slides' "(m + 0.5) * width" is not used).
#               n = levels for an asymmetric quantizer on a one-signed tensor
#               (MXNet's uint8 case), else (levels + 1) // 2 (128 for 8 bits).
#               Range [max(min, -t), min(max, t)].
#               The reference casts to float32 inside _smooth_distribution;
#               this script works in float64, as calib.c does.  The float32
#               variant is run too and its bin reported on stderr: on these
#               sparse histograms the divergence curve is flat near its
#               minimum (runner-up within ~1e-7 relative), below float32's
#               resolution, so float32 can pick another bin on the plateau
#               (up to 42 bins away on these tensors).
#   mse         for ratio r = s / 100, s = 100 down to 10: the clip range is
#               [min(lo, 0) r, max(hi, 0) r] (asymmetric) or [-A r, A r] with
#               A = max |x| (symmetric); each signed-histogram bin centre is
#               fake-quantized on the grid of `levels` steps over that range
#               with the zero point rounded to an integer (round half to
#               even, values clamped to [0, levels]); the candidate with the
#               least count-weighted squared error wins, the first (widest)
#               on ties.
#
# A tensor whose finite values are all equal has range [v, v] for every
# method.  The script asserts that every argmin it records beats the runner-up
# by more than 1e-9 relative (the entropy ones by 1.6e-8 at least), far above
# the ~1e-13 by which C's summation order can differ from numpy's.
#
# Format (whitespace-separated tokens; '#' starts a comment line):
#   tensor NAME N         N float32 values follow (NaN and inf included)
#   x HEX...              float32 bit patterns, 12 per line
#   minmax LO HI          float32 bit patterns of the finite min and max
#   pct P SYM LO HI       percentile P, symmetric flag, expected range
#   nppct P LO HI         numpy.percentile(method="inverted_cdf") of the raw
#                         finite values at 100-P and P: the order statistics
#                         of rank ceil(q n), one bin width from LO/HI of pct
#   entropy LEVELS SYM QBINS BIN LO HI   BIN = chosen i (threshold bin edge)
#   mse LEVELS SYM STEP LO HI            STEP = s of the winning ratio s / 100
#   end
# Ranges are decimal doubles (17 significant digits).
import struct
import sys

import numpy as np

SEED = 20240611
BINS = 2048
PCTS = (99.9, 99.99)
MSE_LEVELS = 255


def hexbits(v):
    return "%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]


def r17(v):
    return "%.17g" % v


# ------------------------------------------------------------- histograms

def histograms(fin):
    """Signed and |x| histograms of the finite values, in float64 so that
    numpy bins exactly the values calib.c bins (it also works in double)."""
    x = fin.astype(np.float64)
    lo, hi = float(x.min()), float(x.max())
    amax = max(abs(lo), abs(hi))
    h, edges = np.histogram(x, bins=BINS, range=(lo, hi))
    ah, aedges = np.histogram(np.abs(x), bins=BINS, range=(0.0, amax))
    assert h.sum() == x.size and ah.sum() == x.size
    return h.astype(np.float64), edges, ah.astype(np.float64), aedges


# ------------------------------------------------------------- percentile

def hist_quantile(h, edges, q):
    """Value below which a fraction q of the histogram's mass lies, the mass
    of each bin spread uniformly across it."""
    cdf = np.cumsum(h)
    target = q * cdf[-1]
    b = int(np.searchsorted(cdf, target, side="left"))
    if b >= h.size:
        return float(edges[-1])
    before = cdf[b - 1] if b > 0 else 0.0
    frac = (target - before) / h[b]
    return float(edges[b] + frac * (edges[b + 1] - edges[b]))


def percentile_range(lo, hi, h, edges, ah, aedges, pct, sym):
    q = pct / 100.0
    if sym:
        a = hist_quantile(ah, aedges, q)
        return max(lo, -a), min(hi, a)
    return max(lo, hist_quantile(h, edges, 1.0 - q)), min(hi, hist_quantile(h, edges, q))


# ---------------------------------------------------------------- entropy

def smooth_distribution(p, eps=0.0001, dtype=np.float64):
    # MXNet's _smooth_distribution with its float32 a parameter.  All of it:
    # with float32 masks, numpy would round eps and eps1 to float32 even in
    # the float64 variant (2.5e-8 relative, as large as some argmin margins).
    is_zeros = (p == 0).astype(dtype)
    is_nonzeros = (p != 0).astype(dtype)
    n_zeros = is_zeros.sum()
    n_nonzeros = p.size - n_zeros
    if not n_nonzeros:
        raise ValueError("all entries are 0")
    eps1 = eps * float(n_zeros) / float(n_nonzeros)
    assert eps1 < 1.0
    hist = p.astype(dtype)
    hist += eps * is_zeros + (-eps1) * is_nonzeros
    assert (hist <= 0).sum() == 0
    return hist


def kl_divergence(p, q):
    # scipy.stats.entropy(p, q): both normalised, sum of p log(p / q).
    p = p / np.sum(p)
    q = q / np.sum(q)
    return float(np.sum(p * np.log(p / q)))


def entropy_divergences(hist, num_quantized_bins, dtype=np.float64):
    """KL divergence of every candidate i = n..len(hist) (MXNet's loop body,
    on the one-sided |x| histogram)."""
    n = num_quantized_bins
    divergence = np.full(hist.size + 1, np.inf)
    quantized_bins = np.zeros(n, dtype=np.float64)
    for i in range(n, hist.size + 1):
        sliced_nd_hist = hist[0:i]
        p = sliced_nd_hist.copy()
        p[-1] += np.sum(hist[i:])
        is_nonzeros = (p != 0).astype(np.int32)
        num_merged_bins = sliced_nd_hist.size // n
        for j in range(n):
            start = j * num_merged_bins
            stop = start + num_merged_bins
            quantized_bins[j] = sliced_nd_hist[start:stop].sum()
        quantized_bins[-1] += sliced_nd_hist[n * num_merged_bins:].sum()
        q = np.zeros(sliced_nd_hist.size, dtype=dtype)
        for j in range(n):
            start = j * num_merged_bins
            stop = len(is_nonzeros) if j == n - 1 else start + num_merged_bins
            norm = is_nonzeros[start:stop].sum()
            if norm != 0:
                q[start:stop] = float(quantized_bins[j]) / float(norm)
        q[p == 0] = 0
        p = smooth_distribution(p, dtype=dtype)
        try:
            q = smooth_distribution(q, dtype=dtype)
        except ValueError:
            continue  # MXNet: divergence inf
        divergence[i] = kl_divergence(p, q)
    return divergence


def qbins_for(levels, sym, one_signed):
    return levels if one_signed and not sym else (levels + 1) // 2


def margin(values, best):
    """Relative gap between the best value and the best of the others."""
    rest = np.delete(values, best)
    rest = rest[np.isfinite(rest)]
    if rest.size == 0:
        return np.inf
    return (rest.min() - values[best]) / max(abs(values[best]), abs(rest.min()), 1e-300)


# -------------------------------------------------------------------- mse

def fake_quant_err2(v, clo, chi, levels):
    scale = (chi - clo) / levels
    if not scale > 0:
        return v * v
    zp = np.rint(-clo / scale)
    q = np.clip(np.rint(v / scale) + zp, 0, levels)
    d = (q - zp) * scale - v
    return d * d


def mse_candidates(lo, hi, h, edges, levels, sym):
    centres = (edges[:-1] + edges[1:]) / 2
    keep = h > 0
    c, w = centres[keep], h[keep]
    lneg, hpos = min(lo, 0.0), max(hi, 0.0)
    out = []
    for s in range(100, 9, -1):
        r = s / 100
        if sym:
            a = max(-lneg, hpos) * r
            clo, chi = -a, a
        else:
            clo, chi = lneg * r, hpos * r
        out.append((s, clo, chi, float(np.sum(w * fake_quant_err2(c, clo, chi, levels)))))
    return out


# ---------------------------------------------------------------- tensors

def tensors(rng):
    t = []
    t.append(("normal", rng.normal(0.25, 1.5, 4096)))
    t.append(("relu", np.maximum(rng.normal(0.0, 1.0, 4096), 0.0)))
    lap = rng.laplace(0.0, 0.4, 3072)
    lap[rng.choice(lap.size, 6, replace=False)] = [18.0, -25.0, 31.5, -12.0, 40.25, 22.0]
    t.append(("laplace_outliers", lap))
    t.append(("student_t3", rng.standard_t(3.0, 3072) * 0.8))
    t.append(("uniform", rng.uniform(-0.7, 1.9, 2048)))
    t.append(("neg_relu", -np.maximum(rng.normal(0.5, 1.0, 1024), 0.0)))
    mixed = rng.normal(0.0, 2.0, 1500)
    mixed[rng.choice(mixed.size, 10, replace=False)] = [np.nan] * 5 + [np.inf] * 3 + [-np.inf] * 2
    t.append(("nonfinite_mixed", mixed))
    t.append(("constant", np.full(64, 0.75)))
    return [(name, np.asarray(v, dtype=np.float32)) for name, v in t]


def emit_tensor(out, name, x):
    out.append("tensor %s %d" % (name, x.size))
    words = [hexbits(v) for v in x.tolist()]
    for i in range(0, len(words), 12):
        out.append(("x " if i == 0 else "  ") + " ".join(words[i:i + 12]))
    fin = x[np.isfinite(x)]
    lo32, hi32 = fin.min(), fin.max()
    out.append("minmax %s %s" % (hexbits(lo32), hexbits(hi32)))
    lo, hi = float(lo32), float(hi32)
    amax = max(abs(lo), abs(hi))
    one_signed = lo >= 0 or hi <= 0
    constant = not hi > lo

    if not constant:
        h, edges, ah, aedges = histograms(fin)
        width = (hi - lo) / BINS
    for pct in PCTS:
        for sym in (0, 1):
            r = (lo, hi) if constant else percentile_range(lo, hi, h, edges, ah, aedges, pct, sym)
            out.append("pct %g %d %s %s" % (pct, sym, r17(r[0]), r17(r[1])))
        raw = fin.astype(np.float64)
        nlo, nhi = np.percentile(raw, [100 - pct, pct], method="inverted_cdf")
        out.append("nppct %g %s %s" % (pct, r17(nlo), r17(nhi)))
        if not constant:
            # Sanity check of the histogram quantile against the raw data.
            # The target rank q n falls in the bin that holds the order
            # statistic of rank ceil(q n), which is what numpy's inverted_cdf
            # method returns, so the two are within one bin width.  numpy's
            # default (linear) method interpolates towards the next order
            # statistic, which in a sparse tail can be many bins away; that
            # distance is only reported.
            plo, phi = percentile_range(lo, hi, h, edges, ah, aedges, pct, 0)
            d = max(abs(plo - nlo), abs(phi - nhi)) / width
            llo, lhi = np.percentile(raw, [100 - pct, pct])
            dl = max(abs(plo - llo), abs(phi - lhi)) / width
            print("%-16s percentile %-6g vs numpy.percentile: %.3f bin widths "
                  "(inverted_cdf), %.3f (linear)" % (name, pct, d, dl), file=sys.stderr)
            assert d <= 1.0, (name, pct, d)

    # Entropy for the 8-bit quantizer both ways, and a 255-bin search for
    # signed tensors too (509 steps symmetric: (509 + 1) / 2 = 255).
    configs = [(255, 1), (255, 0)] + ([] if one_signed else [(509, 1)])
    for levels, sym in configs:
        n = qbins_for(levels, sym, one_signed)
        if constant:
            b = BINS
        else:
            div = entropy_divergences(ah, n)
            b = int(np.argmin(div))
            m = margin(div, b)
            b32 = int(np.argmin(entropy_divergences(ah, n, np.float32)))
            print("%-16s entropy n=%-3d bin %4d (float32 variant %4d), margin %.2e" %
                  (name, n, b, b32, m), file=sys.stderr)
            assert m > 1e-9, (name, n, m)
        t = b * amax / BINS
        out.append("entropy %d %d %d %d %s %s" % (levels, sym, n, b, r17(max(lo, -t)), r17(min(hi, t))))

    for sym in (0, 1):
        if constant:
            out.append("mse %d %d %d %s %s" % (MSE_LEVELS, sym, 100, r17(lo), r17(hi)))
            continue
        cands = mse_candidates(lo, hi, h, edges, MSE_LEVELS, sym)
        errs = np.array([c[3] for c in cands])
        k = int(np.argmin(errs))
        m = margin(errs, k)
        print("%-16s mse sym=%d step %3d, margin %.2e" % (name, sym, cands[k][0], m), file=sys.stderr)
        assert m > 1e-9, (name, sym, m)
        s, clo, chi, _ = cands[k]
        out.append("mse %d %d %d %s %s" % (MSE_LEVELS, sym, s, r17(clo), r17(chi)))
    out.append("end")


def main():
    rng = np.random.default_rng(SEED)
    out = ["# calib_fixtures.txt - numpy %s golden values for tests/test_calib.c" % np.__version__,
           "# generated by tools/gen_calib_fixtures.py (seed %d); do not edit" % SEED,
           "# format and definitions: see the header of tools/gen_calib_fixtures.py"]
    for name, x in tensors(rng):
        emit_tensor(out, name, x)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
