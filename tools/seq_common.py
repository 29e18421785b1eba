# SPDX-License-Identifier: GPL-3.0-or-later
"""seq_common.py - what the sequence-model scripts share: the datasets read
from Debian's word lists and fortunes (with the deterministic splits that
engine/textdata.c reproduces byte for byte), the three PyTorch models, the
outlier reparameterisation, and the safetensors writer.

The rules here are the contract with engine/textdata.c and data/README.md;
change one and the other two must follow.

    FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3) of a sample's
    bytes, h.  Split by h % 100: 0-79 train, 80-89 valid, 90-99 test.
"""
import json, os, struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1
FNV_OFFSET, FNV_PRIME = 0xcbf29ce484222325, 0x100000001b3
SPLITS = ("train", "valid", "test")


def fnv1a64(b):
    h = FNV_OFFSET
    for c in b:
        h = ((h ^ c) * FNV_PRIME) & MASK64
    return h


def fnv1a64_many(words):
    """FNV-1a 64 of many byte strings at once (numpy, column by column)."""
    n = len(words)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=n)
    width = int(lens.max())
    buf = np.zeros((n, width), dtype=np.uint8)
    flat = np.frombuffer(b"".join(words), dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    for j in range(width):
        sel = lens > j
        buf[sel, j] = flat[starts[sel] + j]
    h = np.full(n, FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(FNV_PRIME)
    with np.errstate(over="ignore"):
        for j in range(width):
            sel = lens > j
            h[sel] = (h[sel] ^ buf[sel, j].astype(np.uint64)) * prime
    return h


def split_of(h):
    r = h % 100
    return 0 if r < 80 else 1 if r < 90 else 2


# ------------------------------------------------------------------ words

DICT_DIR = "/usr/share/dict"
# (language, file under /usr/share/dict, Debian package); the order is the
# class order of encoder-langid.
LANGS = [
    ("english", "american-english", "wamerican"),
    ("german", "ngerman", "wngerman"),
    ("french", "french", "wfrench"),
    ("spanish", "spanish", "wspanish"),
    ("italian", "italian", "witalian"),
    ("portuguese", "portuguese", "wportuguese"),
    ("dutch", "dutch", "wdutch"),
    ("swedish", "swedish", "wswedish"),
    ("norwegian", "bokmaal", "wnorwegian"),
    ("danish", "danish", "wdanish"),
    ("catalan", "catalan", "wcatalan"),
    ("polish", "polish", "wpolish"),
]
WORD_MAX_BYTES = 30        # + BOS + EOS = 32 tokens, the encoder's context
WORD_CAP = 20000           # expected words kept per language before the duplicate rule
ENC_BOS, ENC_EOS, ENC_VOCAB = 256, 257, 258


def normalise_line(line):
    """A list line as UTF-8: kept if valid UTF-8, else read as Latin-1 (the
    Swedish and Norwegian lists are ISO-8859-1)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    try:
        line.decode("utf-8")
        return line
    except UnicodeDecodeError:
        return line.decode("latin-1").encode("utf-8")


def eligible(w):
    """1..30 bytes; only ASCII letters and non-ASCII bytes; no ASCII capital
    after the first byte (drops acronyms, possessives, hyphenated forms,
    numbers)."""
    if not 1 <= len(w) <= WORD_MAX_BYTES:
        return False
    for i, c in enumerate(w):
        if 97 <= c <= 122 or c >= 128:
            continue
        if 65 <= c <= 90 and i == 0:
            continue
        return False
    return True


def utf8_chars(w):
    return sum(1 for c in w if c & 0xC0 != 0x80)


def length_bucket(nchars):
    return "len1-4" if nchars <= 4 else "len5-8" if nchars <= 8 else "len9+"


def load_words(dict_dir=DICT_DIR, cap=WORD_CAP):
    """Returns a list of (word bytes, language index, h, split) in the
    canonical order (h ascending, then bytes), and per-language counts."""
    elig = []
    for lang, fname, pkg in LANGS:
        path = os.path.join(dict_dir, fname)
        if not os.path.exists(path):
            raise SystemExit(f"{path}: missing (install the Debian package {pkg})")
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        ws = [w for w in (normalise_line(l) for l in lines if l) if eligible(w)]
        elig.append(ws)
    selected = {}  # word -> (lang, h); the owners check below drops words of two lists
    info = []
    for li, ws in enumerate(elig):
        n = len(ws)
        hs = fnv1a64_many(ws)
        keep = (hs >> np.uint64(32)).astype(object) * n < (cap << 32)
        nsel = 0
        for w, h, k in zip(ws, hs.tolist(), keep):
            if k and w not in selected:
                selected[w] = (li, h)
                nsel += 1
        info.append((n, nsel))
    # a selected word that is eligible in any other language's list is ambiguous
    owners = {w: {v[0]} for w, v in selected.items()}
    for li, ws in enumerate(elig):
        for w in ws:
            o = owners.get(w)
            if o is not None:
                o.add(li)
    out = [(w, v[0], v[1], split_of(v[1])) for w, v in selected.items() if len(owners[w]) == 1]
    out.sort(key=lambda t: (t[2], t[0]))
    return out, info


def encode_word(w):
    return [ENC_BOS] + list(w) + [ENC_EOS]


# --------------------------------------------------------------- fortunes

FORTUNE_DIR = "/usr/share/games/fortunes"
# Category files grouped into named strata; the group order is fixed, and
# inside a group the files are read in this order.
FORTUNE_GROUPS = [
    ("computing", ["computers", "linux", "linuxcookie", "perl", "debian", "debian-hints", "bofh-excuses",
                   "translate-me"]),
    ("cookie", ["cookie", "fortunes", "miscellaneous", "platitudes", "disclaimer"]),
    ("definitions", ["definitions"]),
    ("humour", ["humorists", "zippy", "riddles", "knghtbrd", "kids", "pets", "food"]),
    ("science", ["science", "medicine", "drugs", "goedel", "paradoxum", "magic", "education"]),
    ("society", ["people", "men-women", "love", "ethnic", "sports"]),
    ("politics", ["politics", "law", "news", "anarchism"]),
    ("work", ["work"]),
    ("literature", ["literature", "songs-poems", "art", "ascii-art", "pratchett", "startrek"]),
    ("wisdom", ["wisdom", "tao"]),
]
FORTUNE_PACKAGES = "fortunes, fortunes-min, fortunes-bofh-excuses, fortunes-debian-hints, fortune-anarchism"
FORTUNE_SEP = b"%\n"
# The `shifted` domain: C headers from libc6-dev, concatenated in this order.
SHIFTED_FILES = ["/usr/include/stdio.h", "/usr/include/string.h", "/usr/include/ctype.h"]


def parse_fortunes(data):
    """Records of a fortune file: the lines between lines that are exactly
    "%", each line with its "\\n"; records of only whitespace dropped."""
    recs, cur = [], []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        if line == b"%":
            recs.append(b"".join(cur))
            cur = []
        else:
            cur.append(line + b"\n")
    recs.append(b"".join(cur))
    return [r for r in recs if r.strip(b" \t\r\n")]


def load_fortunes(fdir=FORTUNE_DIR):
    """Returns streams[group][split] (bytes: each fortune followed by "%\\n",
    in file order) and the list of (group, file, record count)."""
    streams = [[bytearray() for _ in SPLITS] for _ in FORTUNE_GROUPS]
    files = []
    for gi, (g, names) in enumerate(FORTUNE_GROUPS):
        for name in names:
            path = os.path.join(fdir, name)
            if not os.path.exists(path):
                raise SystemExit(f"{path}: missing (install the Debian packages {FORTUNE_PACKAGES})")
            recs = parse_fortunes(open(path, "rb").read())
            files.append((g, name, len(recs)))
            for r in recs:
                streams[gi][split_of(fnv1a64(r))] += r + FORTUNE_SEP
    return [[bytes(s) for s in g] for g in streams], files


def load_shifted():
    return b"".join(open(p, "rb").read() for p in SHIFTED_FILES)


def windows(stream, length):
    """(start, n) windows predicting stream[start+1 .. start+n] from
    stream[start .. start+n-1]: stride `length`, the last one shorter."""
    out, s = [], 0
    while s + 1 < len(stream):
        n = min(length, len(stream) - 1 - s)
        out.append((s, n))
        s += length
    return out


# ----------------------------------------------------------------- models

class Block(nn.Module):
    """Pre-LayerNorm transformer block; attention scores and the weighted
    sum are two separate products, as in the C engine."""

    def __init__(self, d, heads, ff, dropout=0.0):
        super().__init__()
        self.heads = heads
        self.drop = nn.Dropout(dropout)
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, ff)
        self.mlp.fc2 = nn.Linear(ff, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        q, k, v = self.attn.qkv(self.ln1(x)).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)
        s = (q @ k.transpose(-1, -2)) * (1.0 / dh ** 0.5)
        s = s.masked_fill(mask, float("-inf"))
        a = s.softmax(-1) @ v
        x = x + self.drop(self.attn.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.mlp.fc2(F.gelu(self.mlp.fc1(self.ln2(x)))))


class Transformer(nn.Module):
    def __init__(self, vocab, d, layers, heads, ff, context, nout, causal, dropout=0.0):
        super().__init__()
        self.causal = causal
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, heads, ff, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, nout)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)

    def hidden(self, tok, pad=None):
        """tok: (b, t) ids; pad: (b, t) bool, True at padding (encoder)."""
        b, t = tok.shape
        x = self.tok_emb(tok) + self.pos_emb(torch.arange(t))
        if self.causal:
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        else:
            mask = pad[:, None, None, :] if pad is not None else torch.zeros(1, 1, 1, t, dtype=torch.bool)
        for blk in self.blocks:
            x = blk(x, mask)
        return self.ln_f(x)

    def forward(self, tok, pad=None):
        x = self.hidden(tok, pad)
        if self.causal:
            return self.head(x)
        keep = (~pad).float() if pad is not None else torch.ones(tok.shape)
        pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
        return self.head(pooled)


class RNNLM(nn.Module):
    def __init__(self, vocab, emb, hidden, layers):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, emb)
        self.gru = nn.GRU(emb, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tok, h0=None):
        y, h = self.gru(self.tok_emb(tok), h0)
        return self.head(y), h


def transformer_tensors(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def outlier_reparam(model, channels, factor):
    """Function-preserving stress variant: LayerNorm gain and bias of
    `channels` multiplied by `factor`, the matching input columns of the
    linear layer that reads that LayerNorm divided by it.  Returns a copy."""
    import copy
    m = copy.deepcopy(model)
    pairs = [(b.ln1, b.attn.qkv) for b in m.blocks] + [(b.ln2, b.mlp.fc1) for b in m.blocks] + [(m.ln_f, m.head)]
    with torch.no_grad():
        for ln, lin in pairs:
            for c in channels:
                ln.weight[c] *= factor
                ln.bias[c] *= factor
                lin.weight[:, c] /= factor
    return m


# -------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n, = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta
