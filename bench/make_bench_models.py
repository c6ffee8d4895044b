#!/usr/bin/python3
"""Generate the full-size benchmark models into bench/out/ (git-ignored).

Issue 3 times sparsify against ONNX Runtime on a ResNet-50-sized CNN and a
BERT-base-sized encoder. Timing does not depend on the weight values, so both
are made here with random (seeded) weights from Debian's python3-torch and
python3-torchvision instead of being downloaded; at ~100 MB and ~420 MB they
are too big to commit, so every machine regenerates them (about a minute).

  bench/out/resnet50.onnx   torchvision resnet50, input 'input' f32 [N,3,224,224],
                            output 'logits' [N,1000], opset 13, BN folded by export
  bench/out/bert_base.onnx  12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522,
                            inputs input_ids / attention_mask int64 [N,S],
                            outputs logits [N,3] and token_logits [N,S,5], opset 14
                            (same code as tests/models/bert_tiny, exported at S=128)

Usage: /usr/bin/python3 bench/make_bench_models.py [--out bench/out] [--only resnet50|bert_base]
Existing files are kept unless --force is given.
"""

import argparse
import os
import sys
import time

import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from make_test_models import BertEncoder, init_bert  # noqa: E402  (same encoder as bert_tiny)

SEED = 4321


def export(model, args, path, input_names, output_names, dynamic_axes, opset):
    model.eval()
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, args, tmp, opset_version=opset, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes)
    os.replace(tmp, path)


def make_resnet50(path):
    import torchvision
    torch.manual_seed(SEED)
    model = torchvision.models.resnet50(weights=None)
    export(model, torch.randn(1, 3, 224, 224), path, ["input"], ["logits"],
           {"input": {0: "N"}, "logits": {0: "N"}}, 13)


def make_bert_base(path):
    model = BertEncoder(vocab=30522, max_pos=512, hidden=768, heads=12, layers=12, ffn=3072)
    init_bert(model, torch.Generator().manual_seed(SEED))
    seq = 128
    ids = torch.randint(1, 30522, (1, seq), generator=torch.Generator().manual_seed(SEED))
    mask = torch.ones(1, seq, dtype=torch.int64)
    export(model, (ids, mask), path, ["input_ids", "attention_mask"], ["logits", "token_logits"],
           {"input_ids": {0: "N", 1: "S"}, "attention_mask": {0: "N", 1: "S"},
            "logits": {0: "N"}, "token_logits": {0: "N", 1: "S"}}, 14)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--only", choices=["resnet50", "bert_base"])
    ap.add_argument("--force", action="store_true", help="regenerate existing files")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name, make in [("resnet50", make_resnet50), ("bert_base", make_bert_base)]:
        if args.only and args.only != name:
            continue
        path = os.path.join(args.out, f"{name}.onnx")
        if os.path.exists(path) and not args.force:
            print(f"{path}: exists, kept (--force to regenerate)")
            continue
        t0 = time.time()
        make(path)
        import onnx
        onnx.checker.check_model(path)  # by path: works for files over 2 GB too
        print(f"{path}: {os.path.getsize(path) / 1e6:.0f} MB in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
