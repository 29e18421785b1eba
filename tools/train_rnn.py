#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""train_rnn.py - trains `rnn-text`, a byte-level GRU language model (2
layers, hidden 256) on the English fortunes the decoder uses.

    OPENBLAS_NUM_THREADS=1 python3 tools/train_rnn.py [--epochs 8] [--threads 1] [--seed 1]

Needs Debian's python3-torch and the fortunes packages named in
seq_common.FORTUNE_PACKAGES.  Deterministic: fixed seed, CPU, one process.
Truncated back-propagation through time: 32 lanes read the training stream
in chunks of 256 bytes and carry their state from chunk to chunk, so the
model sees the long contexts it is evaluated on.  Writes
data/models/rnn-text.{safetensors,json}.
"""
import argparse, hashlib, json, math, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (tools/ is distributed)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq_common as sc  # noqa: E402

CFG = {"kind": "rnn", "cell": "gru", "vocab": 256, "emb": 64, "hidden": 256, "n_layers": 2}
SEGMENT = 2048
POS_BUCKETS = [("pos0-63", 0, 64), ("pos64-255", 64, 256), ("pos256-1023", 256, 1024), ("pos1024+", 1024, 1 << 30)]
LN2 = math.log(2)


def eval_stream(model, stream, length=SEGMENT, bs=64):
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
            logits, _ = model(tok)
            ce = F.cross_entropy(logits.reshape(-1, 256), tgt.reshape(-1), reduction="none").view(len(chunk), n)
            for j, (s, k) in enumerate(chunk):
                out.append(ce[j, :k])
    return out


def bpc(losses):
    n = sum(len(x) for x in losses)
    return sum(x.sum().item() for x in losses) / max(n, 1) / LN2, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lanes", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass over the stream (smoke tests use less)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    streams, files = sc.load_fortunes()
    train = torch.tensor(list(b"".join(g[0] for g in streams)), dtype=torch.long)
    valid = b"".join(g[1] for g in streams)
    B, T = args.lanes, args.bptt
    lane_len = (len(train) - 1) // B
    steps_per_epoch = args.steps_per_epoch or lane_len // T
    total = args.epochs * steps_per_epoch
    model = sc.RNNLM(CFG["vocab"], CFG["emb"], CFG["hidden"], CFG["n_layers"])
    model.gru.dropout = 0.1
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.05)
    t0 = time.time()
    vsub = valid[:32768]
    for ep in range(args.epochs):
        model.train()
        # each epoch the lanes start at a different offset of the stream
        shift = int(torch.randint(0, lane_len, (1,)))
        base = (torch.arange(B) * lane_len + shift) % (len(train) - 1 - lane_len)
        h, run = None, 0.0
        for s in range(steps_per_epoch):
            idx = base[:, None] + s * T + torch.arange(T + 1)[None]
            x = train[idx]
            logits, h = model(x[:, :-1], h)
            h = h.detach()
            loss = F.cross_entropy(logits.reshape(-1, 256), x[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run += loss.item()
        model.eval()
        vb, _ = bpc(eval_stream(model, vsub))
        print(f"epoch {ep + 1}: train {run / steps_per_epoch / LN2:.3f} bpc, valid (first 32 KB) {vb:.3f} bpc "
              f"({time.time() - t0:.0f} s)", flush=True)
    train_s = round(time.time() - t0)

    model.eval()
    per_group, allw = {}, []
    for (g, _), st in zip(sc.FORTUNE_GROUPS, streams):
        w = eval_stream(model, st[2])
        per_group[g] = round(bpc(w)[0], 4)
        allw += w
    tot, ntok = bpc(allw)
    per_pos = {}
    for name, lo, hi in POS_BUCKETS:
        per_pos[name] = round(bpc([x[lo:hi] for x in allw if len(x) > lo])[0], 4)
    shifted, nshift = bpc(eval_stream(model, sc.load_shifted()))
    print(f"test: {tot:.4f} bpc over {ntok} bytes; per group {per_group}; per position {per_pos}; "
          f"shifted {shifted:.4f}", flush=True)

    params = sum(p.numel() for p in model.parameters())
    name = "rnn-text"
    card = {
        "name": name, "family": "rnn",
        "task": "next-byte prediction on English fortunes (byte-level GRU)",
        "config": CFG, "params": params,
        "tokenizer": "bytes: token id = byte value 0-255, no special tokens; the state starts at zero",
        "tensors": "tok_emb.weight [256, emb]; gru.weight_ih_lN [3H, in], gru.bias_ih_lN [3H], gru.weight_hh_lN "
                   "[3H, H], gru.bias_hh_lN [3H] (PyTorch nn.GRU names, gate rows r, z, n); "
                   "head.{weight [256, H], bias [256]}",
        "forward": "PyTorch GRU: r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz), "
                   "n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h; logits = head(h of the "
                   "last layer)",
        "metric": "bpc", "metrics": ["bpc", "ppl_ratio", "kld", "top1_agree"],
        "strata": ["all"] + [g for g, _ in sc.FORTUNE_GROUPS] + [b for b, _, _ in POS_BUCKETS] + ["shifted"],
        "calib_sets": ["representative", "short"],
        "calib_note": "short: windows of <= 64 bytes; representative: deployment-length windows (2048 bytes)",
        "dataset": "English fortunes from Debian (" + sc.FORTUNE_PACKAGES + "), the decoder's groups and splits "
                   "(data/README.md)",
        "training": {"command": f"OPENBLAS_NUM_THREADS=1 python3 tools/train_rnn.py --epochs {args.epochs} "
                                f"--lanes {B} --bptt {T} --lr {args.lr} --threads {args.threads} --seed {args.seed}",
                     "optimizer": f"Adam, one-cycle LR max {args.lr}, gradient clip 1.0, {B} lanes x {T}-byte "
                                  f"chunks with the state carried (truncated BPTT), dropout 0.1 between the GRU layers",
                     "epochs": args.epochs, "steps": total, "seed": args.seed, "torch": torch.__version__,
                     "seconds": train_s},
        "fp32": {"split": "test", "bytes": ntok, "bpc": round(tot, 4), "bpc_per_group": per_group,
                 "bpc_per_position": per_pos, "bpc_shifted": round(shifted, 4), "shifted_bytes": nshift,
                 "windows": f"segments of {SEGMENT} predicted bytes per group stream (the last shorter), "
                            "state reset to zero at each"},
    }
    meta = {"family": "rnn", "name": name, "task": card["task"], "config": json.dumps(CFG)}
    path = os.path.join(args.out, f"data/models/{name}.safetensors")
    sc.write_safetensors(path, {k: v.detach().clone() for k, v in model.state_dict().items()}, meta)
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(os.path.join(args.out, f"data/models/{name}.json"), "w") as f:
        json.dump({**card, "sha256": sha}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{name}: {path} sha256 {sha}")


if __name__ == "__main__":
    main()
