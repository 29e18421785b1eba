#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""gen_seq_fixtures.py - PyTorch fixtures for the sequence models' C forward
passes, and Python's view of the text data for engine/textdata.c.

    python3 tools/gen_seq_fixtures.py [--stats]

Reads data/models/{encoder-langid,decoder-text,rnn-text}{,-outliers}.safetensors
into the PyTorch modules of seq_common.py and writes
  tests/golden/seq_logits.txt    logits of fixed inputs (words; byte sequences
                                 at chosen positions) for every model file
  tests/golden/seq_textdata.txt  split counts, stream sizes and hashes, and
                                 some words' and windows' assignments
With --stats it also prints each transformer's activation outlier ratio
(absmax / 99.9th percentile of |x|) at the input of every linear layer.
Needs Debian's python3-torch, the word lists and the fortunes packages.
"""
import argparse, hashlib, os, sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (tools/ is distributed)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq_common as sc  # noqa: E402
import train_decoder  # noqa: E402
import train_encoder  # noqa: E402
import train_rnn  # noqa: E402

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
WORDS = ["a", "the", "Fußball", "été", "żółwiami", "Straßenbahnhaltestellen", "incumbiram", "gewaslengte",
         "smörgåsbord", "følelsesmæssige", "perché", "col·laboració", "Donaudampfschiffahrtsgesellsch", "xyz"]
DEC_POS = [0, 1, 2, 5, 31, 32, 100, 127, 128, 200, 254, 255]
RNN_POS = [0, 1, 2, 63, 64, 255, 256, 700, 1023, 1024, 1500, 1999]


def load(top, name, build):
    path = os.path.join(top, "data/models", name + ".safetensors")
    tensors, meta = sc.read_safetensors(path)
    m = build()
    m.load_state_dict(tensors)
    m.eval()
    return m, hashlib.sha256(open(path, "rb").read()).hexdigest()


def fmt(v):
    return " ".join("%.9g" % x for x in v)


def rnn_build():
    c = train_rnn.CFG
    return sc.RNNLM(c["vocab"], c["emb"], c["hidden"], c["n_layers"])


def sequences(streams):
    """Fixed byte sequences: one token, a short prompt, a full context, and
    (for the rnn) a long text."""
    test = streams[3][2]
    return [test[:1], test[100:137], test[1000:1256], test[5000:7000]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--top", default=TOP, help="tree holding data/models/ (read) and tests/golden/ (written)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    streams, files = sc.load_fortunes()
    seqs = sequences(streams)
    out = ["# PyTorch fp32 logits of the shipped sequence models (tools/gen_seq_fixtures.py)",
           "# model NAME SHA256; w WORD_HEX logits (encoder); s ID TOKENS_HEX then p ID POS logits (decoder, rnn)"]
    models = {}
    for name in ("encoder-langid", "encoder-langid-outliers"):
        m, sha = load(args.top, name, train_encoder.build)
        models[name] = m
        out.append(f"model {name} {sha}")
        with torch.no_grad():
            for w in WORDS:
                b = w.encode()
                assert 1 <= len(b) <= sc.WORD_MAX_BYTES, w
                out.append(f"w {b.hex()} " + fmt(m(torch.tensor([sc.encode_word(b)]))[0].tolist()))
    for name in ("decoder-text", "decoder-text-outliers"):
        m, sha = load(args.top, name, train_decoder.build)
        models[name] = m
        out.append(f"model {name} {sha}")
        with torch.no_grad():
            for i, s in enumerate(seqs[:3]):
                out.append(f"s {i} {s.hex()}")
                y = m(torch.tensor([list(s)]))[0]
                for p in DEC_POS:
                    if p < len(s):
                        out.append(f"p {i} {p} " + fmt(y[p].tolist()))
    m, sha = load(args.top, "rnn-text", rnn_build)
    models["rnn-text"] = m
    out.append(f"model rnn-text {sha}")
    with torch.no_grad():
        for i, s in enumerate([seqs[0], seqs[1], seqs[3]]):
            out.append(f"s {i} {s.hex()}")
            y, _ = m(torch.tensor([list(s)]))
            for p in RNN_POS:
                if p < len(s):
                    out.append(f"p {i} {p} " + fmt(y[0, p].tolist()))
    with open(os.path.join(args.top, "tests/golden/seq_logits.txt"), "w") as f:
        f.write("\n".join(out) + "\n")

    # text data as Python sees it
    words, info = sc.load_words()
    t = ["# Python's view of the text data (tools/gen_seq_fixtures.py, rules in tools/seq_common.py)",
         "# list LANG BYTES, eligible LANG N: size and eligible lines of the list; count SPLIT LANG N: kept words",
         "# word INDEX HEX LANG SPLIT HASH: words at canonical indices; file GROUP NAME BYTES: fortune files",
         "# hfile NAME BYTES; stream GROUP SPLIT BYTES FNV; records SPLIT N; windows SPLIT LEN N; win LEN I GROUP START N"]
    for (lang, fname, pkg), (n, _) in zip(sc.LANGS, info):
        t.append(f"list {lang} {os.path.getsize(os.path.join(sc.DICT_DIR, fname))}")
        t.append(f"eligible {lang} {n}")
    for si, s in enumerate(sc.SPLITS):
        for li, (lang, _, _) in enumerate(sc.LANGS):
            t.append(f"count {s} {lang} {sum(1 for w in words if w[3] == si and w[1] == li)}")
    t.append(f"words {len(words)}")
    picks = sorted(set([0, 1, 2, 3, 4, len(words) // 3, len(words) // 2, len(words) - 1] +
                       list(range(1000, len(words), 9973))))
    for i in picks:
        w, l, h, s = words[i]
        t.append(f"word {i} {w.hex()} {sc.LANGS[l][0]} {sc.SPLITS[s]} {h}")
    for g, name, n in files:
        t.append(f"file {g} {name} {os.path.getsize(os.path.join(sc.FORTUNE_DIR, name))}")
    recs = [0, 0, 0]
    for g, names in sc.FORTUNE_GROUPS:
        for name in names:
            for r in sc.parse_fortunes(open(os.path.join(sc.FORTUNE_DIR, name), "rb").read()):
                recs[sc.split_of(sc.fnv1a64(r))] += 1
    for si, s in enumerate(sc.SPLITS):
        t.append(f"records {s} {recs[si]}")
    for (g, _), st in zip(sc.FORTUNE_GROUPS, streams):
        for si, s in enumerate(sc.SPLITS):
            t.append(f"stream {g} {s} {len(st[si])} {sc.fnv1a64(st[si])}")
    for p in sc.SHIFTED_FILES:
        t.append(f"hfile {os.path.basename(p)} {os.path.getsize(p)}")
    sh = sc.load_shifted()
    t.append(f"stream shifted test {len(sh)} {sc.fnv1a64(sh)}")
    for length in (256, 2048):
        ws = []
        for gi, st in enumerate(streams):
            ws += [(sc.fnv1a64(st[2][s:s + n + 1]), gi, s, n) for s, n in sc.windows(st[2], length)]
        ws += [(sc.fnv1a64(sh[s:s + n + 1]), len(streams), s, n) for s, n in sc.windows(sh, length)]
        ws.sort()
        t.append(f"windows test {length} {len(ws)}")
        for i in sorted(set([0, 1, 2, len(ws) // 2, len(ws) - 1])):
            h, g, s, n = ws[i]
            gname = sc.FORTUNE_GROUPS[g][0] if g < len(streams) else "shifted"
            t.append(f"win {length} {i} {gname} {s} {n}")
    with open(os.path.join(args.top, "tests/golden/seq_textdata.txt"), "w") as f:
        f.write("\n".join(t) + "\n")
    print("wrote tests/golden/seq_logits.txt and tests/golden/seq_textdata.txt")

    if args.stats:
        test_words = [w for w, l, h, s in words if s == 2][:2000]
        dec_text = b"".join(st[2] for st in streams)
        for name, m in models.items():
            if name.startswith("rnn"):
                continue
            stats = {}

            def hook(mod, inp, _out, key=None):
                x = inp[0].detach()
                stats.setdefault(key, []).append(x.reshape(-1, x.shape[-1]).abs())

            hs = [mod.register_forward_hook(lambda mod, i, o, k=n: hook(mod, i, o, k))
                  for n, mod in m.named_modules() if isinstance(mod, torch.nn.Linear)]
            with torch.no_grad():
                if name.startswith("encoder"):  # words of one length per batch: no padding rows
                    for n in sorted(set(len(w) for w in test_words)):
                        m(*train_encoder.batchify([w for w in test_words if len(w) == n]))
                else:
                    for i in range(0, 32 * 256, 256):
                        m(torch.tensor([list(dec_text[i:i + 256])]))
            for h in hs:
                h.remove()
            print(name)
            for k, v in stats.items():
                rows = torch.cat(v)
                a = rows.reshape(-1).numpy()
                p = float(np.quantile(a, 0.999))
                ch = rows.max(0).values
                print(f"  {k:24s} absmax {a.max():9.3f}  p99.9 {p:8.3f}  ratio {a.max() / p:6.2f}  "
                      f"max/median channel absmax {float(ch.max() / ch.median()):6.2f}")


if __name__ == "__main__":
    main()
