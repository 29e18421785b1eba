#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""train_cnn.py - trains precis's reference model `cnn-fashion` and writes
its weights, model card and PyTorch forward fixtures.

    OPENBLAS_NUM_THREADS=1 python3 tools/train_cnn.py [--epochs 8] [--threads 2]

Needs Debian's python3-torch (+ libopenblas0-pthread, see data/README.md) and
dataset-fashion-mnist.  Deterministic: fixed seed, CPU, single process.
Writes
  data/models/cnn-fashion.safetensors  weights with BatchNorm folded into the convs
  data/models/cnn-fashion.json         model card
  tests/golden/cnn_fashion_logits.txt  logits of the first 64 test images (fp32,
                                       from the folded model) for the forward-pass test
"""
import argparse, gzip, hashlib, json, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
# Normalisation applied by the model's first layer input; the C engine
# applies the same (x/255 - MEAN) / STD.
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # Channels kept small so a forward pass costs about 2 MMAC per image:
        # the explorer re-evaluates the full 10k test set on every change.
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 3 * 3, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # 16x14x14
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # 32x7x7
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)   # 64x3x3
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class Folded(nn.Module):
    """The exported graph: convs with BatchNorm folded in, same layer names."""
    def __init__(self, net):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = (fold(c, b) for c, b in
            ((net.conv1, net.bn1), (net.conv2, net.bn2), (net.conv3, net.bn3)))
        self.fc1, self.fc2 = net.fc1, net.fc2

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def fold(conv, bn):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                    padding=conv.padding, bias=True)
    out.weight.data = conv.weight.data * s.reshape(-1, 1, 1, 1)
    out.bias.data = bn.bias.data - bn.running_mean * s
    return out


# The layer graph the C engine executes, stored in the safetensors metadata.
ARCH = [
    {"op": "conv2d", "name": "conv1", "in": 1, "out": 16, "kernel": 3, "stride": 1, "pad": 1},
    {"op": "relu"}, {"op": "maxpool2d", "kernel": 2, "stride": 2},
    {"op": "conv2d", "name": "conv2", "in": 16, "out": 32, "kernel": 3, "stride": 1, "pad": 1},
    {"op": "relu"}, {"op": "maxpool2d", "kernel": 2, "stride": 2},
    {"op": "conv2d", "name": "conv3", "in": 32, "out": 64, "kernel": 3, "stride": 1, "pad": 1},
    {"op": "relu"}, {"op": "maxpool2d", "kernel": 2, "stride": 2},
    {"op": "flatten"},
    {"op": "linear", "name": "fc1", "in": 576, "out": 128},
    {"op": "relu"},
    {"op": "linear", "name": "fc2", "in": 128, "out": 10},
]


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), ".."))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    xtr = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    ytr = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    xte = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    yte = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    prep = lambda x: (torch.from_numpy(x.astype(np.float32) / 255.0) - MEAN).div(STD).unsqueeze(1)
    Xtr, Ytr = prep(xtr), torch.from_numpy(ytr.astype(np.int64))
    Xte, Yte = prep(xte), torch.from_numpy(yte.astype(np.int64))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=args.epochs * (60000 // 128 + 1))
    t0 = time.time()
    for ep in range(args.epochs):
        net.train()
        perm = torch.randperm(60000)
        for i in range(0, 60000, 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = F.cross_entropy(net(Xtr[idx]), Ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            acc = (net(Xte).argmax(1) == Yte).float().mean().item()
        print(f"epoch {ep + 1}: test top1 {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)

    folded = Folded(net).eval()
    with torch.no_grad():
        logits = folded(Xte)
        ref = net(Xte)
    print("fold max abs diff", (logits - ref).abs().max().item())
    pred = logits.argmax(1)
    acc = (pred == Yte).float().mean().item()
    per_class = {CLASSES[c]: round((pred[Yte == c] == c).float().mean().item(), 4) for c in range(10)}
    params = sum(p.numel() for p in folded.parameters())

    tensors = {}
    for name in ("conv1", "conv2", "conv3", "fc1", "fc2"):
        m = getattr(folded, name)
        tensors[f"{name}.weight"] = m.weight
        tensors[f"{name}.bias"] = m.bias
    meta = {"family": "cnn", "name": "cnn-fashion", "arch": json.dumps(ARCH),
            "input": json.dumps({"channels": 1, "height": 28, "width": 28, "mean": MEAN, "std": STD}),
            "classes": json.dumps(CLASSES)}
    model_path = os.path.join(args.out, "data/models/cnn-fashion.safetensors")
    write_safetensors(model_path, tensors, meta)
    sha = hashlib.sha256(open(model_path, "rb").read()).hexdigest()

    card = {
        "name": "cnn-fashion", "family": "cnn",
        "task": "Fashion-MNIST image classification (10 classes, 28x28 grey)",
        "architecture": ARCH, "input": json.loads(meta["input"]), "classes": CLASSES,
        "params": params,
        "dataset": "Fashion-MNIST (Zalando, MIT licence) from Debian's dataset-fashion-mnist: "
                   "trained on the 60k train split, evaluated on the 10k test split",
        "training": {"command": f"OPENBLAS_NUM_THREADS=1 python3 tools/train_cnn.py --epochs {args.epochs} "
                                f"--threads {args.threads} --seed {args.seed}",
                     "optimizer": "Adam, one-cycle LR max 4e-3, batch 128, cross-entropy",
                     "epochs": args.epochs, "seed": args.seed, "torch": torch.__version__,
                     "seconds": round(time.time() - t0)},
        "export": "BatchNorm folded into conv weights and biases; fp32 little-endian safetensors",
        "fp32_top1": round(acc, 4), "fp32_top1_per_class": per_class,
        "sha256": sha,
    }
    with open(os.path.join(args.out, "data/models/cnn-fashion.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")

    with open(os.path.join(args.out, "tests/golden/cnn_fashion_logits.txt"), "w") as f:
        f.write("# cnn-fashion fp32 logits from PyTorch (tools/train_cnn.py), first 64 test images\n")
        f.write(f"# model sha256 {sha}\n# index label logit0..logit9 (%.9g)\n")
        for i in range(64):
            f.write(f"{i} {int(Yte[i])} " + " ".join("%.9g" % v for v in logits[i].tolist()) + "\n")
    print(f"params {params}, fp32 top1 {acc:.4f}, sha256 {sha}")


if __name__ == "__main__":
    main()
