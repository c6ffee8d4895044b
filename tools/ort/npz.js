// Reading and writing numpy .npz files for the ONNX Runtime reference tools.
//
// run.js, compare.js and bench.js exchange data with sparsify in the format of
// its calibration folders: one .npz per sample, one array per model input or
// output. The zip container is handled by fflate (which understands the zip64
// headers numpy writes); the .npy headers inside are small enough to parse
// here. Only what sparsify supports is accepted: little-endian, C order, the
// dtypes f4 f8 f2 i8 i4 i1 u1 b1. Anything else is an error naming the file
// and key, never a silent conversion.
'use strict';

const fs = require('fs');
const path = require('path');
const fflate = require('fflate');

// npy descr -> [ONNX Runtime tensor type, typed array constructor, element size]
const DTYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<f2': ['float16', Uint16Array, 2],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '|i1': ['int8', Int8Array, 1],
  '|u1': ['uint8', Uint8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};
// Single-byte types may be written with any byte-order mark.
for (const c of ['i1', 'u1', 'b1']) {
  DTYPES['<' + c] = DTYPES['|' + c];
  DTYPES['=' + c] = DTYPES['|' + c];
}
const DESCR_OF_TYPE = {
  float32: '<f4', float64: '<f8', float16: '<f2', int64: '<i8', int32: '<i4',
  int8: '|i1', uint8: '|u1', bool: '|b1',
};

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// An array as the tools pass it around: {type, dims: number[], data: TypedArray}.
// `type` is ONNX Runtime's tensor type name; float16 data is the raw Uint16Array.

function fail(where, msg) {
  throw new Error(`${where}: ${msg}`);
}

// Parse one .npy byte buffer; `where` names it in error messages.
function parseNpy(bytes, where) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) fail(where, 'not an .npy array (bad magic)');
  const major = buf[6];
  let headerLen;
  let headerStart;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(where, 'truncated .npy header');
    headerLen = buf.readUInt32LE(8);
    headerStart = 12;
  } else {
    fail(where, `unsupported .npy format version ${major}.${buf[7]}`);
  }
  if (headerStart + headerLen > buf.length) fail(where, `.npy header of ${headerLen} bytes runs past the end`);
  const header = buf.subarray(headerStart, headerStart + headerLen).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) fail(where, `unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran[1] === 'True') fail(where, 'Fortran-order array; expected C order');
  const dt = DTYPES[descr[1]];
  if (!dt) fail(where, `dtype '${descr[1]}' not supported (expected little-endian f4 f8 f2 i8 i4 i1 u1 b1)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) fail(where, `bad dimension '${s}' in shape`);
    return Number(s);
  });
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const nbytes = count * dt[2];
  if (buf.length - dataStart !== nbytes) {
    fail(where, `shape [${dims}] of ${descr[1]} needs ${nbytes} bytes, file holds ${buf.length - dataStart}`);
  }
  // Copy so the typed array is aligned whatever the header length was.
  const copy = new Uint8Array(nbytes);
  copy.set(buf.subarray(dataStart, dataStart + nbytes));
  return { type: dt[0], dims, data: new dt[1](copy.buffer, 0, count) };
}

// Read an .npz file into {key: array}, keys without the '.npy' suffix.
function readNpz(file) {
  let entries;
  try {
    entries = fflate.unzipSync(new Uint8Array(fs.readFileSync(file)));
  } catch (e) {
    fail(file, `not a readable zip archive (${e.message})`);
  }
  const out = {};
  for (const name of Object.keys(entries).sort()) {
    if (!name.endsWith('.npy')) fail(file, `member '${name}' is not an .npy array`);
    const key = name.slice(0, -4);
    out[key] = parseNpy(entries[name], `${file}: key '${key}'`);
  }
  return out;
}

function npyBytes(arr, where) {
  const descr = DESCR_OF_TYPE[arr.type];
  if (!descr) fail(where, `cannot write tensor type '${arr.type}' to .npy`);
  const shape = arr.dims.length === 1 ? `(${arr.dims[0]},)` : `(${arr.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Version 1.0: magic, 2 version bytes, uint16 length; the whole preamble is
  // padded with spaces and a final newline to a multiple of 64 bytes.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  if (header.length > 65535) fail(where, 'shape too long for a version 1.0 .npy header');
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const d = arr.data;
  let body = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  if (arr.type === 'bool') body = Buffer.from(Uint8Array.from(d, (v) => (v ? 1 : 0)));
  return new Uint8Array(Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

// Write {key: array} as an uncompressed .npz (what np.savez writes), through a
// temporary name in the same folder and a rename, so readers never see half a file.
function writeNpz(file, arrays) {
  const members = {};
  for (const key of Object.keys(arrays)) {
    // A fixed date keeps the output byte-identical from run to run.
    members[key + '.npy'] = [npyBytes(arrays[key], `${file}: key '${key}'`),
      { level: 0, mtime: new Date(1980, 0, 1) }];
  }
  const zipped = fflate.zipSync(members);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp${process.pid}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, zipped);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// The .npz files of a folder, sorted by name (the order sparsify reads them in).
function listNpz(dir) {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.npz') && !f.startsWith('.')).sort();
}

// float16 bits -> number, for comparisons.
function halfToNumber(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Element i of an array as a JavaScript number, whatever its type.
function numberAt(arr, i) {
  const v = arr.data[i];
  if (arr.type === 'float16') return halfToNumber(v);
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

module.exports = { readNpz, writeNpz, listNpz, numberAt, DTYPES };
