#!/usr/bin/python3
"""Generate the small ONNX models the test suite runs: tests/models/<name>/.

sparsify's engine, calibration and compression must work on the model
families the issues name (CNNs, BERT-style encoders, mobile CNNs, segmentation
and detection heads, exporters that keep weights in Constant nodes). These are
tiny stand-ins for each, exported by torch the way real models are, so the
tests exercise the same operator patterns (shape-computing subgraphs, dynamic
batch and sequence axes, decomposed LayerNorm and GELU, ...) in milliseconds.
Weights are random but seeded and scaled so that outputs are O(1): agreement
with ONNX Runtime at rtol 1e-4 is then meaningful.

Each model gets tests/models/<name>/model.onnx and data/sample_000K.npz (no
batch dimension, keys = input names). Tests never run this script; they use
the committed files. Regenerate with /usr/bin/python3 tools/make_test_models.py
(deterministic: seeds are fixed, export is single-threaded).

  cnn            the trained demo CNN (copied from demo/fashion-cnn; run
                 tools/make_demo.py first), BatchNormalization kept, opset 13
  bert_tiny      BERT-style encoder, 2 layers, hidden 64, 4 heads, opset 14
                 (LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div)
  bert_tiny_op17 the same weights at opset 17 (native LayerNormalization)
  mobile         MobileNetV3-style net at opset 14 (HardSwish exists only from
                 opset 14; at 13 torch decomposes it into Mul(x, HardSigmoid(x)))
  seg_det        segmentation + detection heads: dilated conv, ConvTranspose,
                 Resize nearest and linear, Concat, Split, Slice, Sigmoid, opset 13
  const_cnn      small CNN whose weights all live in Constant nodes, opset 13

--torch-out DIR also writes torch's own outputs for every sample under
DIR/<name>/ (same layout as tools/ort/run.js) so the export can be checked.
"""

import argparse
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SEED = 1234
SAMPLES = 4


# ---------------------------------------------------------------- bert_tiny

class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)

    def split_heads(self, x):
        # [N, S, H] -> [N, heads, S, head_dim] with N and S taken from the
        # tensor, so the export computes the shape (Shape/Gather/Concat/Reshape).
        n, s = x.size(0), x.size(1)
        return x.view(n, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, additive_mask):
        q = self.split_heads(self.query(x))
        k = self.split_heads(self.key(x))
        v = self.split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / (self.head_dim ** 0.5)
        probs = torch.softmax(scores + additive_mask, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2)
        n, s = ctx.size(0), ctx.size(1)
        return self.out(ctx.reshape(n, s, self.heads * self.head_dim))


class EncoderLayer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attn = SelfAttention(hidden, heads)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ff1 = nn.Linear(hidden, ffn)
        self.ff2 = nn.Linear(ffn, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, additive_mask):
        x = self.ln1(x + self.attn(x, additive_mask))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))  # exact GELU: Erf


class BertEncoder(nn.Module):
    """A BERT-style encoder written the way HF's BertModel exports: position
    ids sliced from a buffer by the sequence length, an additive attention
    mask from Unsqueeze/Cast/Sub/Mul, post-LayerNorm blocks with exact GELU.
    Two heads: pooled sequence classification (first token, Tanh) and token
    classification, whose padded positions are zeroed with Where."""

    def __init__(self, vocab=128, max_pos=64, hidden=64, heads=4, layers=2, ffn=256,
                 classes=3, token_classes=5):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(max_pos, hidden)
        self.ln_emb = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([EncoderLayer(hidden, heads, ffn) for _ in range(layers)])
        self.pool = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, classes)
        self.token_classifier = nn.Linear(hidden, token_classes)
        self.register_buffer("position_ids", torch.arange(max_pos).unsqueeze(0), persistent=False)

    def forward(self, input_ids, attention_mask):
        seq = input_ids.size(1)
        pos = self.position_ids[:, :seq]
        x = self.ln_emb(self.word(input_ids) + self.position(pos))
        m = attention_mask.unsqueeze(1).unsqueeze(2).to(torch.float32)
        additive = (1.0 - m) * -10000.0
        for layer in self.layers:
            x = layer(x, additive)
        logits = self.classifier(torch.tanh(self.pool(x[:, 0])))
        tokens = self.token_classifier(x)
        keep = attention_mask.unsqueeze(-1) == 1
        tokens = torch.where(keep, tokens, torch.zeros_like(tokens))
        return logits, tokens


def init_bert(model, gen):
    """Weights that keep activations O(1) through the stack: fan-in scaled
    normals for linears, unit-ish embeddings, LayerNorm affine near identity
    but not exactly (so a kernel that ignores gamma/beta is caught)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Linear):
                mod.weight.normal_(0.0, 1.0 / mod.in_features ** 0.5, generator=gen)
                mod.bias.normal_(0.0, 0.1, generator=gen)
            elif isinstance(mod, nn.Embedding):
                mod.weight.normal_(0.0, 0.5, generator=gen)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.normal_(0.0, 0.1, generator=gen)


def bert_samples(rng, vocab=128, seq=16):
    """Same sequence length for every sample (so samples can be batched), with
    different amounts of padding at the end; padded ids are 0."""
    out = []
    for k, valid in enumerate([16, 11, 7, 14]):
        ids = rng.integers(1, vocab, size=seq).astype(np.int64)
        mask = np.zeros(seq, dtype=np.int64)
        mask[:valid] = 1
        ids[valid:] = 0
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


# ---------------------------------------------------------------- mobile

class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeeze):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)  # GlobalAveragePool
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, ch, 1)

    def forward(self, x):
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(self.pool(x)))))
        return x * s


class InvertedResidual(nn.Module):
    def __init__(self, cin, expand, cout, stride, act, se):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, expand, 1, bias=False), nn.BatchNorm2d(expand))
        self.dw = nn.Sequential(nn.Conv2d(expand, expand, 3, stride, 1, groups=expand, bias=False),
                                nn.BatchNorm2d(expand))
        self.se = SqueezeExcite(expand, max(8, expand // 4)) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(expand, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.act = act
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.act(self.expand(x))
        y = self.se(self.act(self.dw(y)))
        y = self.project(y)
        return x + y if self.residual else y


class MobileTiny(nn.Module):
    """MobileNetV3-like: HardSwish stem, inverted residual blocks with
    depthwise convolutions, ReLU6 (Clip), squeeze-excite with HardSigmoid,
    residual Add, AveragePool, Flatten and a Gemm classifier."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16))
        self.block1 = InvertedResidual(16, 32, 16, 1, F.relu6, se=True)
        self.block2 = InvertedResidual(16, 48, 24, 2, F.hardswish, se=False)
        self.block3 = InvertedResidual(24, 72, 24, 1, F.hardswish, se=True)
        self.head = nn.Sequential(nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64))
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.hardswish(self.stem(x))
        x = self.block3(self.block2(self.block1(x)))
        x = F.hardswish(self.head(x))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


# ---------------------------------------------------------------- seg_det

class SegDet(nn.Module):
    """A tiny encoder with a segmentation head (ConvTranspose and Resize back
    to the input size) and a YOLO-style detection head exported without NMS:
    3 anchors x (4 box + 1 objectness + 2 classes) per cell, Split into parts,
    Sigmoid-decoded centres and sizes, Slice for the class scores, Concat."""

    def __init__(self, seg_classes=4, anchors=3, det_classes=2):
        super().__init__()
        self.anchors = anchors
        self.per_anchor = 5 + det_classes
        self.enc1 = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU())
        self.context = nn.Sequential(nn.Conv2d(32, 32, 3, 1, padding=2, dilation=2), nn.ReLU())
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.lateral = nn.Conv2d(32, 16, 1)
        self.seg = nn.Conv2d(48, seg_classes, 1)
        self.det = nn.Conv2d(32, anchors * self.per_anchor, 1)

    def forward(self, x):
        f1 = self.enc1(x)                          # [N,16,16,16]
        f2 = self.context(self.enc2(f1))           # [N,32,8,8]
        up_t = self.up(f2)                         # ConvTranspose -> [N,16,16,16]
        up_n = F.interpolate(self.lateral(f2), scale_factor=2.0, mode="nearest")
        fused = torch.cat([f1, up_t, up_n], dim=1)  # [N,48,16,16]
        seg = F.interpolate(self.seg(fused), size=(32, 32), mode="bilinear", align_corners=False)

        d = self.det(f2)                           # [N, A*P, 8, 8]
        n = d.size(0)
        d = d.view(n, self.anchors, self.per_anchor, 64).permute(0, 1, 3, 2)
        d = d.reshape(n, self.anchors * 64, self.per_anchor)
        xy, wh, rest = torch.split(d, [2, 2, self.per_anchor - 4], dim=2)
        scores = torch.sigmoid(rest[:, :, 1:]) * torch.sigmoid(rest[:, :, :1])
        # YOLOv5-style decoding: centres in (-0.5, 1.5), sizes (2 sigmoid)^2.
        centres = torch.sigmoid(xy) * 2.0 - 0.5
        sizes = (torch.sigmoid(wh) * 2.0) ** 2
        det = torch.cat([centres, sizes, torch.sigmoid(rest[:, :, :1]), scores], dim=2)
        return seg, det


# ---------------------------------------------------------------- const_cnn

class SmallCNN(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = self.pool(x)
        return self.fc(torch.flatten(x, 1))


def initializers_to_constants(model):
    """Move every initializer into a Constant node at the top of the graph,
    as some exporters do; the graph inputs never listed them (IR >= 4)."""
    g = model.graph
    consts = [helper.make_node("Constant", [], [init.name], name=f"const_{init.name}", value=init)
              for init in g.initializer]
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    return model


# ---------------------------------------------------------------- common

def init_cnn(model, gen):
    """He-normal convolutions and fan-in scaled linears, so activations stay
    O(1) through the stack (torch's default init shrinks them layer by layer)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = mod.weight[0].numel() if isinstance(mod, nn.Conv2d) else \
                    mod.weight.shape[0] * mod.weight[0, 0].numel()
                mod.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=gen)
            elif isinstance(mod, nn.Linear):
                mod.weight.normal_(0.0, 1.0 / mod.in_features ** 0.5, generator=gen)
            else:
                continue
            if mod.bias is not None:
                mod.bias.normal_(0.0, 0.1, generator=gen)


def randomize_batchnorm(model, gen):
    """Non-trivial running statistics and affine parameters, so BatchNorm is
    not the identity and folding it wrongly changes the outputs."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.normal_(0.0, 0.2, generator=gen)
                mod.running_var.uniform_(0.5, 1.5, generator=gen)
                mod.weight.uniform_(0.7, 1.3, generator=gen)
                mod.bias.normal_(0.0, 0.1, generator=gen)


def export(model, args, path, input_names, output_names, dynamic_axes, opset, keep_bn):
    model.eval()
    tmp = path + ".tmp"
    kwargs = {}
    if keep_bn:
        # EVAL mode would fold BatchNormalization into Conv; see make_demo.py.
        kwargs = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
    torch.onnx.export(model, args, tmp, opset_version=opset, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes, **kwargs)
    os.replace(tmp, path)


def write_samples(folder, samples, compressed):
    data = os.path.join(folder, "data")
    if os.path.isdir(data):
        shutil.rmtree(data)
    os.makedirs(data)
    save = np.savez_compressed if compressed else np.savez
    for k, s in enumerate(samples):
        save(os.path.join(data, f"sample_{k:04d}.npz"), **s)


def torch_outputs(model, samples, input_names, output_names, out_dir):
    """Run torch on each sample (batch of 1) and store the outputs like run.js."""
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    with torch.no_grad():
        for k, s in enumerate(samples):
            args = [torch.from_numpy(s[n][None]) for n in input_names]
            outs = model(*args)
            if isinstance(outs, torch.Tensor):
                outs = (outs,)
            np.savez(os.path.join(out_dir, f"sample_{k:04d}.npz"),
                     **{n: o[0].numpy() for n, o in zip(output_names, outs)})


def check(path):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


def summary(name, m, folder):
    ops = sorted({n.op_type for n in m.graph.node})
    size = os.path.getsize(os.path.join(folder, "model.onnx"))
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    print(f"{name}: opset {opset}, {len(m.graph.node)} nodes, {size} bytes; ops: {' '.join(ops)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "models"))
    ap.add_argument("--torch-out", help="also write torch's outputs under this folder")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)

    def folder(name):
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        return d

    def reference(model, samples, ins, outs, name):
        if args.torch_out:
            torch_outputs(model, samples, ins, outs, os.path.join(args.torch_out, name))

    # (a) cnn: the trained demo model and four of its calibration samples.
    demo = os.path.join(ROOT, "demo", "fashion-cnn")
    if not os.path.exists(os.path.join(demo, "model.onnx")):
        sys.exit("demo/fashion-cnn/model.onnx is missing: run tools/make_demo.py first")
    d = folder("cnn")
    shutil.copyfile(os.path.join(demo, "model.onnx"), os.path.join(d, "model.onnx"))
    picks = sorted(f for f in os.listdir(os.path.join(demo, "data")) if f.endswith(".npz"))[:SAMPLES]
    samples = [{"input": np.load(os.path.join(demo, "data", f))["input"]} for f in picks]
    write_samples(d, samples, compressed=True)
    summary("cnn", check(os.path.join(d, "model.onnx")), d)

    # (b) bert_tiny at opset 14 and 17, same weights and samples.
    gen = torch.Generator().manual_seed(SEED + 1)
    bert = BertEncoder()
    init_bert(bert, gen)
    bert.eval()
    samples = bert_samples(np.random.default_rng(SEED + 1))
    ins, outs = ["input_ids", "attention_mask"], ["logits", "token_logits"]
    dyn = {"input_ids": {0: "N", 1: "S"}, "attention_mask": {0: "N", 1: "S"},
           "logits": {0: "N"}, "token_logits": {0: "N", 1: "S"}}
    dummy = (torch.from_numpy(samples[0]["input_ids"][None]),
             torch.from_numpy(samples[0]["attention_mask"][None]))
    for name, opset in [("bert_tiny", 14), ("bert_tiny_op17", 17)]:
        d = folder(name)
        export(bert, dummy, os.path.join(d, "model.onnx"), ins, outs, dyn, opset, keep_bn=False)
        write_samples(d, samples, compressed=False)
        reference(bert, samples, ins, outs, name)
        summary(name, check(os.path.join(d, "model.onnx")), d)

    # (c) mobile
    gen = torch.Generator().manual_seed(SEED + 2)
    mobile = MobileTiny()
    init_cnn(mobile, gen)
    randomize_batchnorm(mobile, gen)
    mobile.eval()
    rng = np.random.default_rng(SEED + 2)
    samples = [{"input": rng.standard_normal((3, 32, 32)).astype(np.float32)} for _ in range(SAMPLES)]
    d = folder("mobile")
    export(mobile, torch.zeros(1, 3, 32, 32), os.path.join(d, "model.onnx"), ["input"], ["logits"],
           {"input": {0: "N"}, "logits": {0: "N"}}, 14, keep_bn=False)
    write_samples(d, samples, compressed=True)
    reference(mobile, samples, ["input"], ["logits"], "mobile")
    summary("mobile", check(os.path.join(d, "model.onnx")), d)

    # (d) seg_det
    gen = torch.Generator().manual_seed(SEED + 3)
    segdet = SegDet()
    init_cnn(segdet, gen)
    randomize_batchnorm(segdet, gen)
    segdet.eval()
    rng = np.random.default_rng(SEED + 3)
    samples = [{"image": rng.standard_normal((3, 32, 32)).astype(np.float32)} for _ in range(SAMPLES)]
    d = folder("seg_det")
    export(segdet, torch.zeros(1, 3, 32, 32), os.path.join(d, "model.onnx"), ["image"], ["seg", "det"],
           {"image": {0: "N"}, "seg": {0: "N"}, "det": {0: "N"}}, 13, keep_bn=True)
    write_samples(d, samples, compressed=False)
    reference(segdet, samples, ["image"], ["seg", "det"], "seg_det")
    summary("seg_det", check(os.path.join(d, "model.onnx")), d)

    # (e) const_cnn: weights in Constant nodes.
    small = SmallCNN()
    init_cnn(small, torch.Generator().manual_seed(SEED + 4))
    small.eval()
    rng = np.random.default_rng(SEED + 4)
    samples = [{"input": rng.standard_normal((3, 16, 16)).astype(np.float32)} for _ in range(SAMPLES)]
    d = folder("const_cnn")
    path = os.path.join(d, "model.onnx")
    export(small, torch.zeros(1, 3, 16, 16), path, ["input"], ["logits"],
           {"input": {0: "N"}, "logits": {0: "N"}}, 13, keep_bn=False)
    m = initializers_to_constants(onnx.load(path))
    onnx.save(m, path + ".tmp")
    os.replace(path + ".tmp", path)
    write_samples(d, samples, compressed=True)
    reference(small, samples, ["input"], ["logits"], "const_cnn")
    m = check(path)
    assert len(m.graph.initializer) == 0
    summary("const_cnn", m, d)

    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print(f"total {total} bytes under {args.out}")


if __name__ == "__main__":
    main()
