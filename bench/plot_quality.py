#!/usr/bin/python3
"""Plot of bench/quality.sh's table: top-1 accuracy of the demo CNN on the
Fashion-MNIST test set against the optim level, SparseGPT vs magnitude
pruning, with the dense model as a horizontal line.

    plot_quality.py QUALITY.csv OUT.png [CALIBRATION TEXT] [MODEL NAME]
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    calib = sys.argv[3] if len(sys.argv) > 3 else ""
    model = sys.argv[4] if len(sys.argv) > 4 else "fashion-cnn"
    rows = list(csv.DictReader(open(src)))
    dense = float(next(r for r in rows if r["method"] == "dense")["accuracy"])
    # The INT8-only level (< 0.3) prunes nothing: it belongs to both curves.
    int8 = [r for r in rows if r["method"] == "sparsegpt" and float(r["level"]) < 0.3]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.axhline(dense, color="black", lw=1, ls="--", label=f"dense ({dense:.2f}%)")
    styles = {"sparsegpt": ("tab:blue", "o", "SparseGPT + INT8"), "magnitude": ("tab:red", "s", "magnitude + INT8")}
    for method, (color, marker, label) in styles.items():
        pts = [r for r in rows if r["method"] == method]
        if method == "magnitude":
            pts = int8 + pts
        pts.sort(key=lambda r: float(r["level"]))
        xs = [float(r["level"]) for r in pts]
        ys = [float(r["accuracy"]) for r in pts]
        ax.plot(xs, ys, color=color, marker=marker, label=label)
        for x, y, r in zip(xs, ys, pts):
            if float(r["sparsity"]) > 0:
                ax.annotate(f"{100 * float(r['sparsity']):.0f}%", (x, y), textcoords="offset points",
                            xytext=(6, -10 if method == "magnitude" else 6), fontsize=7, color=color)
    ax.set_xlabel("--optim-level (labels: sparsity of the pruned layers)")
    ax.set_ylabel("top-1 accuracy, 10,000 test images (%)")
    ax.set_title(f"{model} on Fashion-MNIST: one-shot compression" + (f"\ncalibration: {calib}" if calib else ""),
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(dst)
    print(f"plot_quality.py: {dst}")


if __name__ == "__main__":
    main()
