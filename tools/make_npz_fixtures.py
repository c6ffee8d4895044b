#!/usr/bin/python3
"""Writes tests/fixtures/npz/: the .npz files, data folders and the tiny ONNX
model that tests/unit/test_data.c reads.

Why a script: the reader must agree with what numpy really writes, so the valid
fixtures are made by numpy itself (np.savez, np.savez_compressed,
np.lib.format.write_array), and the hostile ones (zip bombs, lying headers,
truncated and corrupt archives) are built byte by byte here, where each defect
is visible. Run with Debian's interpreter (python3-numpy, python3-onnx):

    /usr/bin/python3 tools/make_npz_fixtures.py [OUT_DIR]

Besides the fixtures it writes:
  expected.txt  every valid array as "FILE KEY DTYPE SHAPE VALUE...", the values
                printed by numpy, so the C test checks actual numbers;
  casts.txt     "FROM TO 0|1" for every pair of numeric dtypes: numpy's 'safe'
                casting, except int64/uint64 -> float64 (numpy calls it safe,
                it loses digits above 2^53, sparsify refuses it).
If written_by_sparsify.npz exists (the C writer's output, refreshed by running
test_data with SPARSIFY_WRITE_REFERENCE=1) it is checked here with np.load.
Only the interpreter's own modules are used; nothing runs at test time.
"""

import io
import os
import shutil
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper

# Re-running the script gives byte-identical fixtures (zipfile stamps members
# opened for writing with 1980-01-01), so a diff shows only real changes.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "npz")

expected_lines = []


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def fmt_value(v, dtype):
    if dtype.kind == "f":
        f = float(v)
        if np.isnan(f):
            return "nan"
        if np.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if dtype.kind == "b":
        return "1" if v else "0"
    return str(int(v))


def record(rel, arrays):
    """Remembers the arrays of a valid fixture for expected.txt."""
    for key, a in arrays.items():
        a = np.asarray(a)
        shape = ",".join(str(d) for d in a.shape) if a.ndim else "-"
        vals = " ".join(fmt_value(v, a.dtype) for v in a.reshape(-1))
        expected_lines.append(f"{rel} {key} {a.dtype.name} {shape} {vals}".rstrip())


def savez(rel, compressed=False, **arrays):
    p = path(rel)
    (np.savez_compressed if compressed else np.savez)(p, **arrays)
    # Cross-check: numpy reads back what it wrote (guards the script itself).
    with np.load(p) as z:
        for k, a in arrays.items():
            np.testing.assert_array_equal(z[k], a)
    record(rel, arrays)


def npy_bytes(a, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), version=version, allow_pickle=True)
    return buf.getvalue()


def raw_npy(header, data, version=(1, 0)):
    """An .npy image with a hand-written header (padded like numpy does)."""
    h = header.encode("latin1")
    lenfmt = "<H" if version == (1, 0) else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    pad = (64 - (pre + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(lenfmt, len(h)) + h + data


def zip_members(rel, members, compression=zipfile.ZIP_STORED, force_zip64=False):
    """A zip from (name, bytes) pairs through Python's zipfile."""
    warnings.filterwarnings("ignore", "Duplicate name")  # duplicate_key.npz is on purpose
    with zipfile.ZipFile(path(rel), "w", compression=compression) as zf:
        for name, data in members:
            with zf.open(name, "w", force_zip64=force_zip64) as f:
                f.write(data)


def raw_zip(rel, members):
    """A zip assembled by hand so sizes can lie. Each member is a dict with
    name, payload (the stored bytes), method (0 stored, 8 deflate), crc, usize
    (declared uncompressed size)."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m["name"].encode()
        off = len(out)
        fields = (20, 0, m["method"], 0, 0x21, m["crc"], len(m["payload"]), m["usize"], len(name), 0)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + m["payload"]
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, m["method"], 0, 0x21, m["crc"],
                               len(m["payload"]), m["usize"], len(name), 0, 0, 0, 0, 0, off) + name
    cd_off = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_off, 0)
    with open(path(rel), "wb") as f:
        f.write(out)


def deflate_raw(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# ---------------------------------------------------------------- values ----
# One pattern per dtype: an arange (so every element is distinct and its
# position shows) plus the type's extremes, which catch sign and width bugs.
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8",
          "uint8", "uint16", "uint32", "uint64", "bool"]


def pattern(name):
    dt = np.dtype(name)
    i = np.arange(24)
    if dt.kind == "f":
        a = ((i - 10) * 0.5).astype(dt)
        ext = np.array([np.finfo(dt).min, np.finfo(dt).max, np.finfo(dt).tiny, -0.0], dtype=dt)
    elif dt.kind == "b":
        a = (i % 3 == 0)
        ext = np.array([True, False], dtype=bool)
    else:
        info = np.iinfo(dt)
        a = ((i * 7 - 40) if dt.kind == "i" else (i * 7)).astype(dt)
        ext = np.array([info.min, info.max, 0, 1], dtype=dt)
    return a.reshape(2, 3, 4), ext


def make_dtypes():
    for name in DTYPES:
        a, ext = pattern(name)
        savez(f"dtypes/{name}_savez.npz", a=a, ext=ext)
        savez(f"dtypes/{name}_savez_compressed.npz", compressed=True, a=a, ext=ext)


def make_valid_misc():
    savez("valid/scalars.npz", f=np.float32(2.5), i=np.int64(-7), b=np.bool_(True), h=np.float16(0.333))
    savez("valid/empty.npz", e1=np.zeros((0,), np.float32), e2=np.zeros((2, 0, 3), np.int64),
          e3=np.zeros((0, 5), np.uint8))
    savez("valid/nan_inf.npz", v=np.array([np.nan, np.inf, -np.inf, 1.0, -0.0], np.float32),
          d=np.array([np.nan, -np.inf], np.float64), h=np.array([np.inf, np.nan], np.float16))
    # npy versions 2.0 and 3.0 (numpy writes them for huge or non-latin1 headers).
    v2, v3 = np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(4, dtype=np.float64) / 4
    zip_members("valid/npy_versions.npz",
                [("v2.npy", npy_bytes(v2, version=(2, 0))), ("v3.npy", npy_bytes(v3, version=(3, 0)))])
    record("valid/npy_versions.npz", {"v2": v2, "v3": v3})
    # Zip64 headers on every member, stored and deflated.
    z1, z2 = np.arange(10, dtype=np.int64) * 3, np.linspace(0, 1, 5).astype(np.float32)
    zip_members("valid/zip64_stored.npz", [("z1.npy", npy_bytes(z1)), ("z2.npy", npy_bytes(z2))], force_zip64=True)
    zip_members("valid/zip64_deflated.npz", [("z1.npy", npy_bytes(z1)), ("z2.npy", npy_bytes(z2))],
                compression=zipfile.ZIP_DEFLATED, force_zip64=True)
    record("valid/zip64_stored.npz", {"z1": z1, "z2": z2})
    record("valid/zip64_deflated.npz", {"z1": z1, "z2": z2})
    # Header spellings a hand-rolled parser gets wrong: key order, double quotes,
    # no trailing comma, extra spaces, '=' byte order, Python 2 long suffix.
    f4 = np.arange(6, dtype="<f4")
    i8 = np.arange(3, dtype="<i8") - 1
    u1 = np.arange(4, dtype="u1") + 250
    members = [
        ("order.npy", raw_npy("{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", f4.tobytes())),
        ("dquote.npy", raw_npy('{"descr": "<f4", "fortran_order": False, "shape": (6,)}', f4.tobytes())),
        ("spaces.npy", raw_npy("{ 'descr' : '=f4' ,  'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
                               f4.tobytes())),
        ("long.npy", raw_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3L,), }", i8.tobytes())),
        ("u1pipe.npy", raw_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", u1.tobytes())),
        ("u1less.npy", raw_npy("{'descr': '<u1', 'fortran_order': False, 'shape': (4,), }", u1.tobytes())),
        ("b1big.npy", raw_npy("{'descr': '>b1', 'fortran_order': False, 'shape': (2,), }", bytes([1, 0]))),
    ]
    zip_members("valid/header_variants.npz", members)
    record("valid/header_variants.npz", {"order": f4.reshape(2, 3), "dquote": f4, "spaces": f4.reshape(2, 3),
                                         "long": i8, "u1pipe": u1, "u1less": u1,
                                         "b1big": np.array([True, False])})
    # A standalone .npy file.
    np.save(path("valid/plain.npy"), np.arange(5, dtype=np.int16) - 2)
    record("valid/plain.npy", {"-": np.arange(5, dtype=np.int16) - 2})


def make_errors():
    a = np.arange(6, dtype=np.float32)
    np.savez(path("errors/big_endian.npz"), a=a.astype(">f4"))
    np.savez(path("errors/fortran.npz"), a=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.savez(path("errors/object.npz"), a=np.array([1, "two", None], dtype=object))
    np.savez(path("errors/unicode.npz"), a=np.array(["ab", "cd"]))
    np.savez(path("errors/complex.npz"), a=np.array([1 + 2j], np.complex64))
    np.savez(path("errors/structured.npz"), a=np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))
    with open(path("errors/not_a_zip.npz"), "wb") as f:
        f.write(b"this is not a zip archive, just text that ends in .npz\n" * 4)
    good = io.BytesIO()
    np.savez(good, a=np.arange(100, dtype=np.float32))
    data = good.getvalue()
    with open(path("errors/truncated.npz"), "wb") as f:
        f.write(data[: len(data) // 2])
    # One flipped byte inside a stored member's data: the CRC check must fire.
    bad = bytearray(data)
    pos = data.index(b"\x93NUMPY") + 200
    bad[pos] ^= 0xFF
    with open(path("errors/bad_crc.npz"), "wb") as f:
        f.write(bad)
    # Lying npy headers: more elements than data, fewer, absurd shapes.
    zip_members("errors/shape_too_big.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", a.tobytes()))])
    zip_members("errors/shape_too_small.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", a.tobytes()))])
    zip_members("errors/shape_overflow.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (1099511627776, 1099511627776), }", a.tobytes()))])
    zip_members("errors/shape_negative.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", a.tobytes()))])
    zip_members("errors/rank9.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }",
                                   a.tobytes()))])
    zip_members("errors/bad_magic.npz", [("a.npy", b"\x93NUMPX\x01\x00" + b"\x00" * 60)])
    zip_members("errors/bad_version.npz", [("a.npy", b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16)])
    zip_members("errors/header_len_huge.npz", [("a.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0x7FFFFFFF))])
    zip_members("errors/header_truncated.npz",
                [("a.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 500) + b"{'descr': '<f4'")])
    zip_members("errors/header_garbage.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", a.tobytes()))])
    zip_members("errors/header_no_shape.npz",
                [("a.npy", raw_npy("{'descr': '<f4', 'fortran_order': False}", a.tobytes()))])
    zip_members("errors/not_npy_member.npz", [("a.npy", npy_bytes(a)), ("readme.txt", b"hello\n")])
    zip_members("errors/duplicate_key.npz", [("a.npy", npy_bytes(a)), ("a.npy", npy_bytes(a))])

    # Zip bombs. (1) honest sizes: 4 MiB of zeros deflate to a few KiB; the test
    # reads it with a 1 MiB limit. (2) a member claiming ~4 GiB. (3) a member
    # claiming 1000 bytes that inflates to 1 MiB.
    big = npy_bytes(np.zeros(4 << 20, np.uint8))
    zip_members("errors/bomb_honest.npz", [("a.npy", big)], compression=zipfile.ZIP_DEFLATED)
    mid = npy_bytes(np.zeros(1 << 20, np.uint8))
    payload = deflate_raw(mid)
    raw_zip("errors/bomb_claims_4g.npz",
            [{"name": "a.npy", "payload": payload, "method": 8, "crc": zlib.crc32(mid), "usize": 0xFFFFFFF0}])
    raw_zip("errors/bomb_lies_small.npz",
            [{"name": "a.npy", "payload": payload, "method": 8, "crc": zlib.crc32(mid[:1000]), "usize": 1000}])


# ------------------------------------------------------ model and samples ----
# The model the conformance tests use: four inputs covering the dtypes and a
# symbolic non-batch dimension ("T").
MODEL_INPUTS = [("x", TensorProto.FLOAT, ["N", 1, 4, 4]), ("ids", TensorProto.INT64, ["N", 8]),
                ("mask", TensorProto.INT32, ["N", "T"]), ("w", TensorProto.DOUBLE, ["N", 3])]


def make_model():
    inputs = [helper.make_tensor_value_info(n, t, s) for n, t, s in MODEL_INPUTS]
    nodes = [
        helper.make_node("Flatten", ["x"], ["xf"], axis=1),
        helper.make_node("Cast", ["ids"], ["idf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["mf"], ["mr"], axes=[1], keepdims=1),
        helper.make_node("Cast", ["w"], ["wf"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["xf", "idf", "mr", "wf"], ["y"], axis=1),
    ]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 28])
    graph = helper.make_graph(nodes, "npz_fixture", inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_npz_fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path("model.onnx"))


def sample(k, T=5, **over):
    s = {"x": np.full((1, 4, 4), k, np.float32) + np.arange(16, dtype=np.float32).reshape(1, 4, 4) / 16,
         "ids": np.arange(8, dtype=np.int64) + 100 * k,
         "mask": (np.arange(T) % 2).astype(np.int32),
         "w": np.array([k, -k, 0.25], np.float64)}
    s.update(over)
    return {k2: v for k2, v in s.items() if v is not None}


def make_samples():
    # Keys deliberately not in model order: the loader must reorder.
    ok = sample(3)
    savez("conform/ok.npz", w=ok["w"], mask=ok["mask"], ids=ok["ids"], x=ok["x"])
    savez("conform/ok_long_T.npz", **sample(4, T=9))
    # Lossless casts: each input gets a narrower dtype of the same values.
    savez("conform/cast_narrow.npz", x=sample(1)["x"].astype(np.float16), ids=np.arange(8, dtype=np.int32) - 4,
          mask=np.array([1, 0, 1], np.int16), w=np.array([0.5, -1.5, 3], np.float32))
    savez("conform/cast_ints.npz", x=np.arange(16, dtype=np.uint8).reshape(1, 4, 4) * 16,
          ids=np.array([True, False] * 4), mask=np.array([255, 0], np.uint8), w=np.array([-2**31, 7, 2**31 - 1], np.int32))
    errs = {
        "missing_key": sample(0, ids=None),
        "extra_key": sample(0, label=np.int64(3)),
        "wrong_rank": sample(0, x=np.zeros((4, 4), np.float32)),
        "batch_included": sample(0, x=np.zeros((1, 1, 4, 4), np.float32)),
        "wrong_dim": sample(0, x=np.zeros((1, 4, 5), np.float32)),
        "wrong_dim_ids": sample(0, ids=np.zeros((9,), np.int64)),
        "lossy_f64_to_f32": sample(0, x=np.zeros((1, 4, 4), np.float64)),
        "lossy_i64_to_i32": sample(0, mask=np.zeros((5,), np.int64)),
        "lossy_f32_to_i64": sample(0, ids=np.zeros((8,), np.float32)),
        "lossy_i64_to_f64": sample(0, w=np.zeros((3,), np.int64)),
        "lossy_u32_to_i32": sample(0, mask=np.zeros((5,), np.uint32)),
    }
    for name, s in errs.items():
        np.savez(path(f"conform/{name}.npz"), **s)

    # A data folder whose strcmp order differs from numeric and case-folded
    # order, with entries that must be skipped.
    names = ["9.npz", "10.npz", "a.npz", "B.npz", "_c.npz"]
    for k, n in enumerate(names):
        np.savez(path(f"folder/{n}"), **sample(k + 1))
    with open(path("folder/README.txt"), "w") as f:
        f.write("not a sample: the loader skips it with a warning\n")
    with open(path("folder/0.npz.bak"), "wb") as f:
        f.write(b"backup")
    with open(path("folder/subdir/inner.npz"), "wb") as f:
        f.write(b"in a subfolder: skipped")
    with open(path("folder/dir.npz/x"), "wb") as f:
        f.write(b"a folder named like a sample: skipped")
    with open(path("folder_no_npz/notes.txt"), "w") as f:
        f.write("no samples here\n")
    with open(path("folder_bad/0.npz"), "wb") as f:
        f.write(b"corrupt")
    np.savez(path("folder_bad/1.npz"), **sample(1))


def make_cast_table():
    names = DTYPES
    lines = []
    for a in names:
        for b in names:
            ok = np.can_cast(np.dtype(a), np.dtype(b), casting="safe")
            if a in ("int64", "uint64") and b == "float64":
                ok = False  # numpy says safe; 2**53 + 1 does not survive
            lines.append(f"{a} {b} {int(ok)}")
    with open(path("casts.txt"), "w") as f:
        f.write("# FROM TO LOSSLESS: numpy's 'safe' casting, minus int64/uint64 -> float64\n")
        f.write("\n".join(lines) + "\n")


def check_c_writer_output():
    """The C writer's committed output must load in numpy with the values the C
    test wrote (see test_data.c, writer_reference)."""
    p = path("written_by_sparsify.npz")
    if not os.path.exists(p):
        print("note: written_by_sparsify.npz absent; run test_data with SPARSIFY_WRITE_REFERENCE=1")
        return
    with np.load(p) as z:
        assert sorted(z.files) == ["flags", "ids", "scalar", "x"], z.files
        np.testing.assert_array_equal(z["x"], (np.arange(24, dtype=np.float32) - 12).reshape(2, 3, 4) / 4)
        assert z["x"].dtype == np.float32
        np.testing.assert_array_equal(z["ids"], np.array([-(2**63), 2**63 - 1, 0, 42], np.int64))
        np.testing.assert_array_equal(z["flags"], np.array([True, False, True]))
        assert z["scalar"].shape == () and z["scalar"].dtype == np.float64 and z["scalar"] == 0.125
    print("written_by_sparsify.npz: np.load reads the C writer's output correctly")


def main():
    keep = os.path.join(OUT, "written_by_sparsify.npz")
    saved = open(keep, "rb").read() if os.path.exists(keep) else None
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    if saved is not None:
        with open(keep, "wb") as f:
            f.write(saved)
    make_dtypes()
    make_valid_misc()
    make_errors()
    make_model()
    make_samples()
    make_cast_table()
    with open(path("expected.txt"), "w") as f:
        f.write("# FILE KEY DTYPE SHAPE(- for a scalar) VALUES... written by tools/make_npz_fixtures.py\n")
        f.write("\n".join(expected_lines) + "\n")
    check_c_writer_output()
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(OUT) for n in fs)
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
