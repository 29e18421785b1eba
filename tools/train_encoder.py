#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""train_encoder.py - trains `encoder-langid`, a byte-level transformer
encoder that tells which of 12 languages a single word comes from, and
writes it with its function-preserving stress variant
`encoder-langid-outliers`.

    OPENBLAS_NUM_THREADS=1 python3 tools/train_encoder.py [--epochs 6] [--threads 1] [--seed 1]

Needs Debian's python3-torch and the word lists named in seq_common.LANGS
(wamerican wngerman wfrench wspanish witalian wportuguese wdutch wswedish
wnorwegian wdanish wcatalan wpolish).  Deterministic: fixed seed, CPU, one
process.  Writes data/models/encoder-langid{,-outliers}.{safetensors,json}.
"""
import argparse, hashlib, json, math, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (tools/ is distributed)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq_common as sc  # noqa: E402

CFG = {"kind": "encoder", "vocab": sc.ENC_VOCAB, "d_model": 64, "n_layers": 3, "n_heads": 4, "d_ff": 256,
       "context": sc.WORD_MAX_BYTES + 2, "norm": "pre", "activation": "gelu", "ln_eps": 1e-5,
       "bos": sc.ENC_BOS, "eos": sc.ENC_EOS, "pool": "mean"}
OUTLIER_CHANNELS, OUTLIER_FACTOR = [5, 23, 41], 50.0


def build():
    return sc.Transformer(CFG["vocab"], CFG["d_model"], CFG["n_layers"], CFG["n_heads"], CFG["d_ff"],
                          CFG["context"], len(sc.LANGS), causal=False)


def batchify(words):
    """Token ids padded with 0 and the padding mask."""
    t = max(len(w) for w in words) + 2
    tok = torch.zeros(len(words), t, dtype=torch.long)
    pad = torch.ones(len(words), t, dtype=torch.bool)
    for i, w in enumerate(words):
        ids = sc.encode_word(w)
        tok[i, :len(ids)] = torch.tensor(ids)
        pad[i, :len(ids)] = False
    return tok, pad


def predict(model, words, bs=1024):
    out = []
    with torch.no_grad():
        for i in range(0, len(words), bs):
            out.append(model(*batchify(words[i:i + bs])))
    return torch.cat(out)


def metrics(logits, labels, nclass):
    p = logits.softmax(1)
    conf, pred = p.max(1)
    y = torch.tensor(labels)
    correct = (pred == y).float()
    f1 = []
    for c in range(nclass):
        tp = ((pred == c) & (y == c)).sum().item()
        fp = ((pred == c) & (y != c)).sum().item()
        fn = ((pred != c) & (y == c)).sum().item()
        if tp + fp + fn:
            f1.append(2 * tp / (2 * tp + fp + fn))
    ece = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.float().mean().item() * abs(correct[sel].mean().item() - conf[sel].mean().item())
    return {"top1": round(correct.mean().item(), 4), "macro_f1": round(sum(f1) / len(f1), 4), "ece": round(ece, 4)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    t0 = time.time()
    words, info = sc.load_words()
    split = {s: [(w, l) for w, l, h, sp in words if sp == i] for i, s in enumerate(sc.SPLITS)}
    print(f"words: {[len(v) for v in split.values()]} ({time.time() - t0:.0f} s)", flush=True)
    trw = [w for w, l in split["train"]]
    trl = torch.tensor([l for w, l in split["train"]])

    model = build()
    bs = 256
    steps = args.epochs * math.ceil(len(trw) / bs)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    t1 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(trw)).tolist()
        tot, nb = 0.0, 0
        for i in range(0, len(perm), bs):
            idx = perm[i:i + bs]
            tok, pad = batchify([trw[j] for j in idx])
            loss = F.cross_entropy(model(tok, pad), trl[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot, nb = tot + loss.item(), nb + 1
        model.eval()
        vm = metrics(predict(model, [w for w, l in split["valid"]]), [l for w, l in split["valid"]], len(sc.LANGS))
        print(f"epoch {ep + 1}: train loss {tot / nb:.4f}, valid {vm} ({time.time() - t1:.0f} s)", flush=True)
    train_s = round(time.time() - t1)

    model.eval()
    tew, tel = [w for w, l in split["test"]], [l for w, l in split["test"]]
    logits = predict(model, tew)
    tm = metrics(logits, tel, len(sc.LANGS))
    pred = logits.argmax(1)
    per_lang, per_len, counts = {}, {}, {}
    for li, (lang, _, _) in enumerate(sc.LANGS):
        sel = torch.tensor(tel) == li
        per_lang[lang] = round((pred[sel] == li).float().mean().item(), 4)
        counts[lang] = [sum(1 for w, l in split[s] if l == li) for s in sc.SPLITS]
    buckets = [sc.length_bucket(sc.utf8_chars(w)) for w in tew]
    for b in ("len1-4", "len5-8", "len9+"):
        sel = torch.tensor([x == b for x in buckets])
        per_len[b] = {"n": int(sel.sum()), "top1": round((pred[sel] == torch.tensor(tel)[sel]).float().mean().item(), 4)}
    print(f"test {tm}; per language {per_lang}; per length {per_len}", flush=True)
    params = sum(p.numel() for p in model.parameters())
    classes = [l for l, _, _ in sc.LANGS]
    common = {
        "family": "encoder",
        "task": "language identification of single words (12 languages, byte-level)",
        "config": CFG, "classes": classes, "params": params,
        "tokenizer": "bytes of the word's UTF-8 as ids 0-255, preceded by BOS (256) and followed by EOS (257); "
                     "at most 30 bytes, so at most 32 tokens; no padding inside the engine (sequences are packed)",
        "tensors": "tok_emb.weight [258, d]; pos_emb.weight [32, d]; blocks.N.ln1.{weight,bias} [d]; "
                   "blocks.N.attn.qkv.{weight [3d, d], bias [3d]} (rows: q, k, v; head h = rows h*dh..); "
                   "blocks.N.attn.proj.{weight [d, d], bias}; blocks.N.ln2.{weight,bias}; "
                   "blocks.N.mlp.fc1.{weight [d_ff, d], bias}; blocks.N.mlp.fc2.{weight [d, d_ff], bias}; "
                   "ln_f.{weight,bias}; head.{weight [12, d], bias [12]}",
        "forward": "x = tok_emb + pos_emb; per block (pre-LN): x += proj(attn(ln1(x))), x += fc2(gelu(fc1(ln2(x)))) "
                   "with exact (erf) GELU and softmax(q k^T / sqrt(dh)) over the word's own tokens; "
                   "logits = head(mean over the word's tokens of ln_f(x))",
        "metric": "top1", "metrics": ["top1", "macro-f1", "ece"],
        "strata": ["all"] + classes + ["len1-4", "len5-8", "len9+", "rare"],
        "calib_sets": ["representative", "short", "mismatched"],
        "dataset": "Debian word lists (" + ", ".join(p for _, _, p in sc.LANGS) + "), read at run time from "
                   "/usr/share/dict; eligible words, hash-sampled and split as data/README.md describes",
        "split_counts": {"total": [len(split[s]) for s in sc.SPLITS], "per_language": counts,
                         "eligible_per_language": {l: n for (l, _, _), (n, _) in zip(sc.LANGS, info)}},
    }
    train = {"command": f"OPENBLAS_NUM_THREADS=1 python3 tools/train_encoder.py --epochs {args.epochs} "
                        f"--threads {args.threads} --seed {args.seed}",
             "optimizer": f"AdamW (weight decay 0.01), one-cycle LR max 2e-3, batch {bs}, cross-entropy, no dropout",
             "epochs": args.epochs, "seed": args.seed, "torch": torch.__version__, "seconds": train_s}
    fp32 = {"split": "test", "n": len(tew), **tm, "top1_per_language": per_lang, "top1_per_length": per_len}
    write(args.out, "encoder-langid", model, {**common, "training": train, "fp32": fp32})
    om = sc.outlier_reparam(model, OUTLIER_CHANNELS, OUTLIER_FACTOR)
    d = (predict(om, tew[:2000]) - logits[:2000]).abs().max().item()
    print(f"outlier variant: max |logit diff| on 2000 test words {d:.2e}")
    write(args.out, "encoder-langid-outliers", om, {
        **common, "variant": "outliers (function-preserving stress variant, not a trained model)",
        "outliers": {"base": "encoder-langid", "channels": OUTLIER_CHANNELS, "factor": OUTLIER_FACTOR,
                     "how": "gain and bias of these channels of every LayerNorm (ln1, ln2 of each block, ln_f) "
                            "multiplied by the factor; the matching input columns of the linear layer that reads "
                            "that LayerNorm (attn.qkv, mlp.fc1, head) divided by it",
                     "max_abs_logit_diff_vs_base": float("%.3g" % d)},
        "training": train, "fp32": fp32})


def write(out, name, model, card):
    meta = {"family": "encoder", "name": name, "task": card["task"], "config": json.dumps(CFG),
            "classes": json.dumps(card["classes"])}
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
