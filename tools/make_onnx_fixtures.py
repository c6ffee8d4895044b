#!/usr/bin/python3
"""Writes the ONNX fixtures under tests/fixtures/onnx/ that only python-onnx can
vouch for: models saved by onnx.save_model(..., save_as_external_data=True),
so the loader is tested against the reference writer, not only against itself.

Run from the repository root with Debian's interpreter:
    /usr/bin/python3 tools/make_onnx_fixtures.py
The values are closed-form (see expected_w / expected_b) so the C test checks
them without reading anything python made besides the model itself.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "onnx")


def expected_w():
    # W[i, j] = i * 0.5 - j * 0.25, shape [4, 3], float32
    return np.array([[i * 0.5 - j * 0.25 for j in range(3)] for i in range(4)], dtype=np.float32)


def expected_b():
    # B[j] = 100 + j, shape [3], int64 (a second dtype through the same path)
    return np.arange(100, 103, dtype=np.int64)


def make_model():
    w = numpy_helper.from_array(expected_w(), "W")
    b = numpy_helper.from_array(expected_b(), "B")
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["XW"], name="matmul"),
        helper.make_node("Cast", ["B"], ["Bf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Add", ["XW", "Bf"], ["Y"], name="add"),
    ]
    graph = helper.make_graph(
        nodes, "ext_fixture",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_onnx_fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(folder, one_file):
    d = os.path.join(OUT, folder)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    kw = dict(save_as_external_data=True, all_tensors_to_one_file=one_file, size_threshold=0)
    if one_file:
        kw["location"] = "weights.bin"
    onnx.save_model(make_model(), os.path.join(d, "model.onnx"), **kw)
    # Round trip through python's own loader before committing.
    m = onnx.load(os.path.join(d, "model.onnx"))
    got = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    assert np.array_equal(got["W"], expected_w()) and np.array_equal(got["B"], expected_b())
    print(folder, sorted(os.listdir(d)))


if __name__ == "__main__":
    save("ext_one_file", True)
    save("ext_per_tensor", False)
