#!/usr/bin/python3
"""Train the quality-measurement CNN of the local zoo: demo/fashion-cnn-large.

Issue 5 measures compression quality (accuracy vs optimization level,
SparseGPT vs magnitude) on a CNN the project trains on Fashion-MNIST. The demo
model (demo/fashion-cnn, 61k weights, all in small convolutions behind global
average pooling) is too small for 80% unstructured sparsity: it has no
redundancy left to remove. This script trains a classic, wider design whose
weights sit mostly in a hidden fully connected layer, the shape of network
the sparsity targets were written for, while keeping the demo's input
contract (same normalization, same tensor names, same calibration-file
layout) so every tool that takes the demo takes this model too.

Data loading, normalization, evaluation and the BN-preserving ONNX export are
shared with tools/make_demo.py (imported, not copied) so the two models are
directly comparable. Tests and the demo never run this: they use what it
committed.

Outputs (relative to the repository root):
  demo/fashion-cnn-large/model.onnx           opset 13, input 'input' [N,1,28,28] f32,
                                              output 'logits' [N,10], BatchNormalization kept
  demo/fashion-cnn-large/data/sample_NNNN.npz 64 training images, key 'input', [1,28,28] f32
  demo/fashion-cnn-large/labels.npy           int64 labels of those samples, in file order
  demo/fashion-cnn-large/README.md            how it was made and its dense test accuracy
                                              (a '## Quality' section already in the file,
                                              measured with sparsify by hand, is kept)

Usage: /usr/bin/python3 tools/make_quality_cnn.py [--epochs 2] [--out demo/fashion-cnn-large]
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_demo  # noqa: E402  (shared loading/normalization/export)

SEED = 20240612
CALIB_SAMPLES = 64
QUALITY_HEADING = "## Quality"


class QualityCNN(nn.Module):
    """Three 3x3 convolutions (BatchNorm, ReLU) with max pooling after the
    first two, then a 3136->128 hidden layer and a 10-way classifier.

    sparsify excludes the first conv and the classifier by default, so the
    prunable weights are conv2, conv3 and the hidden layer; about 95% of them
    are in the hidden layer, whose 3136-wide fan-in is what lets 80% of it go.
    The widths are bounded by training time on one shared core, not by
    accuracy."""

    def __init__(self, c1=32, c2=32, c3=64, hidden=128, dropout=0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(c3 * 7 * 7, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))   # 28x28 -> 14x14
        x = self.pool(F.relu(self.bn2(self.conv2(x))))   # 14x14 -> 7x7
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


def kept_quality_section(readme_path):
    """The hand-measured '## Quality' section of an existing README, so that
    regenerating the model files does not silently drop the measurements
    (which then need redoing: say so in the section itself)."""
    if not os.path.exists(readme_path):
        return ""
    with open(readme_path) as f:
        text = f.read()
    at = text.find("\n" + QUALITY_HEADING)
    return text[at:] if at >= 0 else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2)  # the committed model; 4 did not fit a shared core
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "demo", "fashion-cnn-large"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_u8, train_y = make_demo.load_split("train")
    test_u8, test_y = make_demo.load_split("t10k")
    # Same rounded training-set statistics as the demo, so both models take
    # the same preprocessed files (tests/idx2npz --mean 0.286 --std 0.353).
    mean = round(float(train_u8.mean() / 255.0), 4)
    std = round(float((train_u8 / 255.0).std()), 4)
    train_x = make_demo.normalize(train_u8, mean, std)
    test_x = make_demo.normalize(test_u8, mean, std)

    model = QualityCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    batch = 128
    steps_per_epoch = (len(train_x) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=2e-3, total_steps=args.epochs * steps_per_epoch)
    gen = np.random.default_rng(SEED)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = gen.permutation(len(train_x))
        total_loss = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb = torch.from_numpy(train_x[idx])
            flip = torch.from_numpy(gen.random(len(idx)) < 0.5)
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            yb = torch.from_numpy(train_y[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        acc = make_demo.evaluate(model, test_x, test_y)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(train_x):.4f} "
              f"test acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    train_seconds = time.time() - t0
    test_acc = make_demo.evaluate(model, test_x, test_y)

    model_path = os.path.join(out, "model.onnx")
    make_demo.export_onnx(model, model_path)

    import onnx
    m = onnx.load(model_path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    n_bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
    n_weights = sum(int(np.prod(t.dims)) for t in m.graph.initializer)

    pick = np.sort(np.random.default_rng(SEED + 1).choice(len(train_x), CALIB_SAMPLES,
                                                          replace=False))
    for old in os.listdir(os.path.join(out, "data")):
        if old.endswith(".npz"):
            os.remove(os.path.join(out, "data", old))
    for k, i in enumerate(pick):
        np.savez_compressed(os.path.join(out, "data", f"sample_{k:04d}.npz"),
                            input=train_x[i].astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), train_y[pick].astype(np.int64))

    readme_path = os.path.join(out, "README.md")
    quality = kept_quality_section(readme_path)
    readme = f"""# fashion-cnn-large: the quality-measurement model of the local zoo

A CNN trained on Fashion-MNIST by `tools/make_quality_cnn.py` with Debian's
`python3-torch` {torch.__version__.split('+')[0]} on Debian's `dataset-fashion-mnist`
(`{make_demo.DATASET_DIR}`), for the accuracy-vs-level measurements of issue 5
(point 7). The demo model `demo/fashion-cnn` is too small for 80% unstructured
sparsity; this one keeps most of its weights in a wide hidden layer. Regenerate
with `/usr/bin/python3 tools/make_quality_cnn.py` (seeded and deterministic for a
given thread count; this copy took {train_seconds / 60:.0f} minutes on {args.threads}
thread(s) of a shared machine).

## Model (`model.onnx`)
- ONNX opset 13, {len(m.graph.node)} nodes, {n_weights} parameters in initializers.
- Input `input`: float32 `[N, 1, 28, 28]`, `N` a dynamic batch axis. Pixels are
  scaled to [0, 1] and then normalized: `(x - {mean}) / {std}` (the same
  preprocessing as `demo/fashion-cnn`).
- Output `logits`: float32 `[N, 10]`; classes in order: {", ".join(make_demo.CLASSES)}.
- Architecture: conv3x3 1->32, BN, ReLU, maxpool 2; conv3x3 32->32, BN, ReLU,
  maxpool 2; conv3x3 32->64, BN, ReLU; flatten (64*7*7 = 3136); linear 3136->128,
  ReLU (dropout 0.3 in training only); linear 128->10.
- Operators: {", ".join(ops)}. The {n_bn} BatchNormalization nodes are kept on purpose,
  as in the demo model.

## Training
{args.epochs} epochs of AdamW (one-cycle learning rate, peak 2e-3, weight decay 1e-4),
batch 128, random horizontal flips, seed {SEED}, {args.threads} thread(s).

**Dense test accuracy: {test_acc * 100:.2f}%** (top-1 on all 10,000 test images, in torch).

## Calibration data
- `data/sample_0000.npz` ... `data/sample_{CALIB_SAMPLES - 1:04d}.npz`: {CALIB_SAMPLES} images from
  the TRAINING set (a seeded random subset), one per file, written with
  `np.savez_compressed`, key `input`, float32 `[1, 28, 28]` (no batch dimension),
  normalized as above.
- `labels.npy`: int64 `[{CALIB_SAMPLES}]`, the labels of those samples in sorted file order.
"""
    with open(readme_path + ".tmp", "w") as f:
        f.write(readme + quality)
    os.replace(readme_path + ".tmp", readme_path)
    print(f"dense test accuracy {test_acc:.4f}; wrote {model_path} "
          f"({os.path.getsize(model_path)} bytes), {CALIB_SAMPLES} samples")


if __name__ == "__main__":
    main()
