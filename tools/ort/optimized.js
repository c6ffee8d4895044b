#!/usr/bin/env node
// Save the graph ONNX Runtime actually executes after its graph optimizer.
//
// Whether a QDQ model runs faster depends on which QuantizeLinear /
// DequantizeLinear groups ORT fuses into integer kernels (QLinearConv,
// QLinearMatMul, MatMulIntegerToFloat, ...). The only reliable answer is the
// optimized graph itself: this script creates a session with the chosen
// optimization level and optimizedModelFilePath, then prints the op types of
// the saved graph with their counts as one JSON object (read straight from
// the protobuf wire format, so no onnx package is needed). Float Conv,
// MatMul or Gemm nodes left next to DequantizeLinear ones mean a layer was
// not fused.
//
// Usage: optimized.js MODEL OUT.onnx [--graph-opt basic|extended|all] [--threads T] [--verbose]
// Exit status: 0 success, 1 runtime error, 2 usage error.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

const USAGE = 'usage: optimized.js MODEL OUT.onnx [--graph-opt basic|extended|all] [--threads T] [--verbose]';

function usage(msg) {
  console.error(`optimized.js: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { graphOpt: 'all', threads: 1, verbose: false };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--graph-opt') {
      const v = argv[++i];
      if (!['basic', 'extended', 'all'].includes(v)) usage(`--graph-opt: unknown level '${v}'`);
      opt.graphOpt = v;
    } else if (a === '--threads') {
      const v = argv[++i];
      if (!/^[1-9]\d*$/.test(v || '')) usage(`--threads expects a positive integer, got '${v}'`);
      opt.threads = Number(v);
    } else if (a === '--verbose') {
      opt.verbose = true;
    } else if (a.startsWith('--')) {
      usage(`unknown option '${a}'`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 2) usage('expected MODEL and OUT.onnx');
  [opt.model, opt.out] = pos;
  return opt;
}

// Minimal protobuf walk: ModelProto.graph (7) -> GraphProto.node (1) ->
// NodeProto.op_type (4). Enough to count op types without extra packages.
function varint(buf, pos) {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

function fields(buf, start, end, fn) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      [, pos] = varint(buf, pos);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let len;
      [len, pos] = varint(buf, pos);
      if (pos + len > end) throw new Error('length past its message');
      fn(field, pos, pos + len);
      pos += len;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

function countOps(buf) {
  const counts = {};
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 7) return;
    fields(buf, s, e, (gf, gs, ge) => {
      if (gf !== 1) return;
      fields(buf, gs, ge, (nf, ns, ne) => {
        if (nf !== 4) return;
        const op = buf.toString('utf8', ns, ne);
        counts[op] = (counts[op] || 0) + 1;
      });
    });
  });
  return counts;
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const so = {
    graphOptimizationLevel: opt.graphOpt,
    optimizedModelFilePath: opt.out,
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (opt.verbose) {
    so.logSeverityLevel = 0;
    so.logVerbosityLevel = 0;
  }
  const session = await ort.InferenceSession.create(opt.model, so);
  if (session.release) await session.release();
  const counts = countOps(fs.readFileSync(opt.out));
  const keys = Object.keys(counts).sort((a, b) => counts[b] - counts[a] || a.localeCompare(b));
  console.log(JSON.stringify(Object.fromEntries(keys.map((k) => [k, counts[k]]))));
}

main().catch((e) => {
  console.error(`optimized.js: ${e.message}`);
  process.exit(1);
});
