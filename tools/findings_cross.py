#!/usr/bin/env python3
"""findings_cross.py DIR MODEL... - tabulates the runs tools/findings_cross.sh
made (DIR/MODEL.RECIPE.json) as the markdown tables of doc/findings.md.

Per cell: the delta on `all` with its 95% interval in the metric's unit
(points for accuracy, bits for bits per character) and the first stratum
to break: the stratum other than `all` with the largest loss whose
interval excludes zero on the losing side ("-" when none does)."""
import json
import os
import sys

RECIPES = [
    ("w8a8-tensor-minmax", "W8A8 per-tensor, minmax"),
    ("w8a8-channel-p9999", "W8A8 per-channel, percentile 99.99"),
    ("w4-g32-weight-only", "W4 group:32, weight-only"),
    ("fp8-e4m3", "FP8-E4M3 weights and activations"),
    ("kv-int4", "KV cache int4 (fp32 weights, activations)"),
    ("kv-int8", "KV cache int8 (fp32 weights, activations)"),
]


def load(d, model, recipe):
    p = os.path.join(d, f"{model}.{recipe}.json")
    return json.load(open(p)) if os.path.exists(p) else None


def unit(run):
    return (1, 4, "bits") if run["metric"] == "bpc" else (100, 2, "pt")


def cell(run):
    mul, dp, _ = unit(run)
    higher = run["eval"]["higher_is_better"]
    strata = run["eval"]["strata"]
    a = strata[0]
    lo, hi = a["ci95"]
    s = f"{a['delta'] * mul:+.{dp}f} [{lo * mul:+.{dp}f}, {hi * mul:+.{dp}f}]"
    worst, wname = 0.0, "-"
    for st in strata[1:]:
        lo, hi = st["ci95"]
        if lo is None or hi is None:
            continue
        loss = -st["delta"] if higher else st["delta"]
        sig = hi < 0 if higher else lo > 0
        if sig and loss > worst:
            worst, wname = loss, f"{st['name']} {st['delta'] * mul:+.{dp}f}"
    return f"{s}; first: {wname}"


def main():
    d, models = sys.argv[1], sys.argv[2:]
    runs = {m: {r: load(d, m, r) for r, _ in RECIPES} for m in models}
    print("| recipe | " + " | ".join(f"`{m}`" for m in models) + " |")
    print("| --- |" + " --- |" * len(models))
    for r, title in RECIPES:
        cells = [cell(runs[m][r]) if runs[m][r] else "n/a" for m in models]
        if all(c == "n/a" for c in cells):
            continue
        print(f"| {title} | " + " | ".join(cells) + " |")
    print()
    refs = []
    for m in models:
        x = next((x for x in runs[m].values() if x), None)
        if x:
            mul, dp, _ = unit(x)
            refs.append(f"`{m}` {x['eval']['strata'][0]['ref'] * mul:.{dp}f} {x['metric']}")
    print("fp32 reference on `all`: " + ", ".join(refs) + ".")
    print()
    lms = [m for m in models if any(x and x["metric"] == "bpc" for x in runs[m].values())]
    if not lms:
        return
    print("| model | recipe | ppl ratio | KLD bits/token (p99.9) | top-1 agree | first divergence (of 224) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for m in lms:
        for r, title in RECIPES:
            x = runs[m][r]
            if not x:
                continue
            e = x["eval"]["strata"][0]["extra"]
            fd = e.get("first_divergence")
            fds = f"{fd['value']:.1f} [{fd['ci95'][0]:.1f}, {fd['ci95'][1]:.1f}], {fd['identical']} of {fd['prompts']} identical" if fd else "-"
            print(f"| `{m}` | {title} | {e['ppl_ratio']['value']:.4f} | {e['kld']['value']:.5f} ({e['kld']['p999']:.4f}) "
                  f"| {e['top1_agree']['value']:.4f} | {fds} |")


if __name__ == "__main__":
    main()
