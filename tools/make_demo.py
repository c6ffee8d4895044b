#!/usr/bin/python3
"""Train the demo model of the local model zoo: demo/fashion-cnn.

The project needs one real, trained model that pruning and quantization can
visibly hurt or preserve, small enough to commit and to compress in seconds,
with calibration samples next to it. This script makes it from Debian's own
packages only (python3-torch, dataset-fashion-mnist), deterministically, so
anyone can regenerate the committed files and check them. Tests and the demo
never run it: they use what it committed.

Outputs (relative to the repository root):
  demo/fashion-cnn/model.onnx          opset 13, input 'input' [N,1,28,28] f32,
                                       output 'logits' [N,10], BatchNormalization kept
  demo/fashion-cnn/data/sample_NNNN.npz 64 training images, key 'input', [1,28,28] f32
  demo/fashion-cnn/labels.npy          int64 labels of those samples, in file order
  demo/fashion-cnn/README.md           how it was made and its dense test accuracy

Usage: /usr/bin/python3 tools/make_demo.py [--epochs 5] [--out demo/fashion-cnn]
"""

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATASET_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 20240611
CALIB_SAMPLES = 64
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Read an idx file (the MNIST container format) into a numpy array.

    The header is a magic number whose low byte is the rank and whose third
    byte is the element type (0x08 = uint8, the only one these files use),
    followed by one big-endian uint32 per dimension.
    """
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        sys.exit(f"{path}: too short for an idx header")
    zero, dtype_code, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        sys.exit(f"{path}: not a uint8 idx file (magic {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        sys.exit(f"{path}: expected {np.prod(dims)} values for dims {dims}, found {body.size}")
    return body.reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATASET_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATASET_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


class FashionCNN(nn.Module):
    """Four 3x3 convolutions with BatchNorm and ReLU, global average pooling, a
    linear classifier. Most of the ~60k weights sit in the last two
    convolutions, so unstructured sparsity has something to bite on."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = torch.mean(x, dim=(2, 3))  # exports as ReduceMean; see export_onnx
        return self.fc(x)


class FashionCNNExport(FashionCNN):
    """Same weights, but pooling written as AdaptiveAvgPool so the exported
    graph has GlobalAveragePool (the op real CNN exports use) instead of
    ReduceMean."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.relu(self.bn4(self.conv4(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


def normalize(images_u8, mean, std):
    return ((images_u8.astype(np.float32) / 255.0 - mean) / std)[:, None, :, :]


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def export_onnx(model, path):
    """Export with BatchNormalization nodes kept.

    torch's EVAL export mode folds BatchNorm into the preceding Conv. We want
    BN in the graph so sparsify's own BN folding is exercised, so the model is
    put in eval() and exported in PRESERVE mode without constant folding,
    which emits inference-mode BatchNormalization nodes.
    """
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    tmp = path + ".tmp"
    torch.onnx.export(model, dummy, tmp, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "demo", "fashion-cnn"))
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(os.path.join(out, "data"), exist_ok=True)

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_u8, train_y = load_split("train")
    test_u8, test_y = load_split("t10k")
    # Statistics of the training set, rounded so the README can state them exactly.
    mean = round(float(train_u8.mean() / 255.0), 4)
    std = round(float((train_u8 / 255.0).std()), 4)
    train_x = normalize(train_u8, mean, std)
    test_x = normalize(test_u8, mean, std)

    model = FashionCNN()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = 128
    steps_per_epoch = (len(train_x) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    gen = np.random.default_rng(SEED)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = gen.permutation(len(train_x))
        total_loss = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb = torch.from_numpy(train_x[idx])
            # Random horizontal flips: clothes are left-right symmetric enough.
            flip = torch.from_numpy(gen.random(len(idx)) < 0.5)
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            yb = torch.from_numpy(train_y[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        acc = evaluate(model, test_x, test_y)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(train_x):.4f} "
              f"test acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    train_seconds = time.time() - t0
    test_acc = evaluate(model, test_x, test_y)

    export_model = FashionCNNExport()
    export_model.load_state_dict(model.state_dict())
    export_model.eval()
    with torch.no_grad():
        diff = (export_model(torch.from_numpy(test_x[:256])) -
                model(torch.from_numpy(test_x[:256]))).abs().max().item()
    assert diff < 1e-4, f"export copy disagrees with the trained model by {diff}"
    model_path = os.path.join(out, "model.onnx")
    export_onnx(export_model, model_path)

    import onnx
    m = onnx.load(model_path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    n_bn = sum(1 for n in m.graph.node if n.op_type == "BatchNormalization")
    n_weights = sum(int(np.prod(t.dims)) for t in m.graph.initializer)

    # Calibration samples from the training set, at a fixed random subset.
    pick = np.sort(np.random.default_rng(SEED + 1).choice(len(train_x), CALIB_SAMPLES,
                                                          replace=False))
    for old in os.listdir(os.path.join(out, "data")):
        if old.endswith(".npz"):
            os.remove(os.path.join(out, "data", old))
    for k, i in enumerate(pick):
        np.savez_compressed(os.path.join(out, "data", f"sample_{k:04d}.npz"),
                            input=train_x[i].astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), train_y[pick].astype(np.int64))

    readme = f"""# fashion-cnn: the demo model of the local zoo

A small CNN trained on Fashion-MNIST by `tools/make_demo.py` with Debian's
`python3-torch` {torch.__version__.split('+')[0]} on Debian's `dataset-fashion-mnist`
(`{DATASET_DIR}`). Regenerate with `/usr/bin/python3 tools/make_demo.py`
(seeded and deterministic for a given thread count; this copy took
{train_seconds / 60:.0f} minutes on {args.threads} thread(s) of a shared machine).

## Model (`model.onnx`)
- ONNX opset 13, {len(m.graph.node)} nodes, {n_weights} parameters in initializers.
- Input `input`: float32 `[N, 1, 28, 28]`, `N` a dynamic batch axis. Pixels are
  scaled to [0, 1] and then normalized: `(x - {mean}) / {std}` (mean and standard
  deviation of the training set).
- Output `logits`: float32 `[N, 10]`; classes in order: {", ".join(CLASSES)}.
- Architecture: conv3x3 1->16, conv3x3 16->32 stride 2, conv3x3 32->64 stride 2,
  conv3x3 64->64, each followed by BatchNormalization and ReLU; global average
  pooling; linear 64->10.
- Operators: {", ".join(ops)}. The {n_bn} BatchNormalization nodes are kept on purpose
  (exported in torch's PRESERVE mode without constant folding) so that BN folding
  in sparsify is exercised.

## Training
{args.epochs} epochs of AdamW (one-cycle learning rate, peak 3e-3, weight decay 1e-4),
batch 128, random horizontal flips, seed {SEED}, {args.threads} thread(s).

**Dense test accuracy: {test_acc * 100:.2f}%** (top-1 on all 10,000 test images, in torch).

## Calibration data
- `data/sample_0000.npz` ... `data/sample_{CALIB_SAMPLES - 1:04d}.npz`: {CALIB_SAMPLES} images from
  the TRAINING set (a seeded random subset), one per file, written with
  `np.savez_compressed`, key `input`, float32 `[1, 28, 28]` (no batch dimension),
  normalized as above.
- `labels.npy`: int64 `[{CALIB_SAMPLES}]`, the labels of those samples in sorted file order.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(readme)
    print(f"dense test accuracy {test_acc:.4f}; wrote {model_path} "
          f"({os.path.getsize(model_path)} bytes), {CALIB_SAMPLES} samples")


if __name__ == "__main__":
    main()
