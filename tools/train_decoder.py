#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""train_decoder.py - trains `decoder-text`, a byte-level GPT (4 blocks,
d_model 128, context 256) on English fortunes, and writes it with its
function-preserving stress variant `decoder-text-outliers`.

    OPENBLAS_NUM_THREADS=1 python3 tools/train_decoder.py [--steps 4400] [--threads 1] [--seed 1]

Needs Debian's python3-torch and the fortunes packages named in
seq_common.FORTUNE_PACKAGES (and libc6-dev for the shifted domain).
Deterministic: fixed seed, CPU, one process.  Writes
data/models/decoder-text{,-outliers}.{safetensors,json}.
"""
import argparse, hashlib, json, math, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (tools/ is distributed)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq_common as sc  # noqa: E402

CFG = {"kind": "decoder", "vocab": 256, "d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 512,
       "context": 256, "norm": "pre", "activation": "gelu", "ln_eps": 1e-5}
OUTLIER_CHANNELS, OUTLIER_FACTOR = [3, 70, 101], 60.0
POS_BUCKETS = [("pos0-31", 0, 32), ("pos32-127", 32, 128), ("pos128+", 128, 1 << 30)]
LN2 = math.log(2)


def build(dropout=0.0):
    return sc.Transformer(CFG["vocab"], CFG["d_model"], CFG["n_layers"], CFG["n_heads"], CFG["d_ff"],
                          CFG["context"], CFG["vocab"], causal=True, dropout=dropout)


def eval_windows(model, stream, length=256, bs=32):
    """Per-position cross-entropy (nats) over the stream's windows: returns
    a list of (losses tensor, positions)."""
    wins = sc.windows(stream, length)
    out = []
    with torch.no_grad():
        for i in range(0, len(wins), bs):
            chunk = wins[i:i + bs]
            n = max(w[1] for w in chunk)
            tok = torch.zeros(len(chunk), n, dtype=torch.long)
            tgt = torch.full((len(chunk), n), -100, dtype=torch.long)
            for j, (s, k) in enumerate(chunk):
                b = torch.tensor(list(stream[s:s + k + 1]))
                tok[j, :k], tgt[j, :k] = b[:-1], b[1:]
            ce = F.cross_entropy(model(tok).reshape(-1, 256), tgt.reshape(-1), reduction="none").view(len(chunk), n)
            for j, (s, k) in enumerate(chunk):
                out.append(ce[j, :k])
    return out


def bpc(losses):
    n = sum(len(x) for x in losses)
    return sum(x.sum().item() for x in losses) / max(n, 1) / LN2, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4400)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    streams, files = sc.load_fortunes()
    train = b"".join(g[0] for g in streams)
    valid = b"".join(g[1] for g in streams)
    tr = torch.tensor(list(train), dtype=torch.long)
    T = CFG["context"]
    vwins = sc.windows(valid, T)
    vsel = [vwins[i] for i in range(0, len(vwins), max(1, len(vwins) // 96))][:96]
    vtok = torch.stack([torch.tensor(list(valid[s:s + T + 1])) for s, k in vsel if k == T])
    print(f"train {len(train)} bytes, valid {len(valid)}, {len(files)} files", flush=True)

    model = build(args.dropout)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warm = 200
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (
        0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps)))))
    t0 = time.time()
    run = 0.0
    for step in range(args.steps):
        model.train()
        starts = torch.randint(0, len(tr) - T - 1, (args.batch,))
        x = torch.stack([tr[s:s + T + 1] for s in starts.tolist()])
        loss = F.cross_entropy(model(x[:, :-1]).reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * loss.item() if step else loss.item()
        if (step + 1) % 250 == 0 or step + 1 == args.steps:
            model.eval()
            with torch.no_grad():
                vl = F.cross_entropy(model(vtok[:, :-1]).reshape(-1, 256), vtok[:, 1:].reshape(-1)).item()
            print(f"step {step + 1}: train {run / LN2:.3f} bpc, valid {vl / LN2:.3f} bpc "
                  f"({time.time() - t0:.0f} s)", flush=True)
    train_s = round(time.time() - t0)

    model.eval()
    per_group, allw = {}, []
    for (g, _), st in zip(sc.FORTUNE_GROUPS, streams):
        w = eval_windows(model, st[2], T)
        per_group[g] = round(bpc(w)[0], 4)
        allw += w
    total, ntok = bpc(allw)
    per_pos = {}
    for name, lo, hi in POS_BUCKETS:
        sel = [x[lo:hi] for x in allw if len(x) > lo]
        per_pos[name] = round(bpc(sel)[0], 4)
    shifted, nshift = bpc(eval_windows(model, sc.load_shifted(), T))
    print(f"test: {total:.4f} bpc over {ntok} bytes; per group {per_group}; per position {per_pos}; "
          f"shifted {shifted:.4f} ({nshift} bytes)", flush=True)

    params = sum(p.numel() for p in model.parameters())
    common = {
        "family": "decoder",
        "task": "next-byte prediction on English fortunes (byte-level GPT)",
        "config": CFG, "params": params,
        "tokenizer": "bytes: token id = byte value 0-255, no special tokens; fortunes joined as in their files "
                     "(each record followed by \"%\\n\")",
        "tensors": "tok_emb.weight [256, d]; pos_emb.weight [256, d]; blocks.N.ln1.{weight,bias} [d]; "
                   "blocks.N.attn.qkv.{weight [3d, d], bias [3d]} (rows: q, k, v; head h = rows h*dh..); "
                   "blocks.N.attn.proj.{weight [d, d], bias}; blocks.N.ln2.{weight,bias}; "
                   "blocks.N.mlp.fc1.{weight [d_ff, d], bias}; blocks.N.mlp.fc2.{weight [d, d_ff], bias}; "
                   "ln_f.{weight,bias}; head.{weight [256, d], bias [256]} (not tied to tok_emb)",
        "forward": "x = tok_emb + pos_emb; per block (pre-LN): x += proj(attn(ln1(x))), x += fc2(gelu(fc1(ln2(x)))) "
                   "with exact (erf) GELU and causal softmax(q k^T / sqrt(dh)); logits = head(ln_f(x))",
        "metric": "bpc", "metrics": ["bpc", "ppl_ratio", "kld", "top1_agree", "dp_correct", "first_divergence"],
        "strata": ["all"] + [g for g, _ in sc.FORTUNE_GROUPS] + [b for b, _, _ in POS_BUCKETS] + ["shifted"],
        "calib_sets": ["representative", "short"],
        "dataset": "English fortunes from Debian (" + sc.FORTUNE_PACKAGES + "), read at run time from "
                   "/usr/share/games/fortunes, category files in 10 groups, split per fortune as data/README.md "
                   "describes; shifted domain: " + ", ".join(sc.SHIFTED_FILES) + " (libc6-dev)",
        "groups": {g: names for g, names in sc.FORTUNE_GROUPS},
        "split_bytes": {g: [len(s) for s in st] for (g, _), st in zip(sc.FORTUNE_GROUPS, streams)},
    }
    train_info = {"command": f"OPENBLAS_NUM_THREADS=1 python3 tools/train_decoder.py --steps {args.steps} "
                             f"--batch {args.batch} --lr {args.lr} --dropout {args.dropout} "
                             f"--threads {args.threads} --seed {args.seed}",
                  "optimizer": f"AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), LR {args.lr} with "
                               f"{warm}-step warm-up and cosine decay to 5%, gradient clip 1.0, batch {args.batch} "
                               f"random windows of {T + 1} bytes, dropout {args.dropout}",
                  "steps": args.steps, "tokens_seen": args.steps * args.batch * T, "seed": args.seed,
                  "torch": torch.__version__, "seconds": train_s}
    fp32 = {"split": "test", "bytes": ntok, "bpc": round(total, 4), "bpc_per_group": per_group,
            "bpc_per_position": per_pos, "bpc_shifted": round(shifted, 4), "shifted_bytes": nshift,
            "windows": f"non-overlapping windows of {T} predicted bytes per group stream, the last shorter"}
    write(args.out, "decoder-text", model, {**common, "training": train_info, "fp32": fp32})
    om = sc.outlier_reparam(model, OUTLIER_CHANNELS, OUTLIER_FACTOR).eval()
    x = torch.tensor(list(streams[0][2][:T]), dtype=torch.long)[None]
    with torch.no_grad():
        d = (om(x) - model(x)).abs().max().item()
    print(f"outlier variant: max |logit diff| on one test window {d:.2e}")
    write(args.out, "decoder-text-outliers", om, {
        **common, "variant": "outliers (function-preserving stress variant, not a trained model)",
        "outliers": {"base": "decoder-text", "channels": OUTLIER_CHANNELS, "factor": OUTLIER_FACTOR,
                     "how": "gain and bias of these channels of every LayerNorm (ln1, ln2 of each block, ln_f) "
                            "multiplied by the factor; the matching input columns of the linear layer that reads "
                            "that LayerNorm (attn.qkv, mlp.fc1, head) divided by it",
                     "max_abs_logit_diff_vs_base": float("%.3g" % d)},
        "training": train_info, "fp32": fp32})


def write(out, name, model, card):
    meta = {"family": "decoder", "name": name, "task": card["task"], "config": json.dumps(CFG)}
    if "variant" in card:
        meta["variant"] = card["variant"]
    path = os.path.join(out, f"data/models/{name}.safetensors")
    sc.write_safetensors(path, sc.transformer_tensors(model), meta)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(out, f"data/models/{name}.json"), "w") as f:
        json.dump({"name": name, **card, "sha256": sha}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{name}: {path} sha256 {sha}")


if __name__ == "__main__":
    main()
