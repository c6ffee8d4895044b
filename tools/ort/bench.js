#!/usr/bin/env node
// Time ONNX Runtime on a model with random inputs of the right shapes and dtypes.
//
// bench/ compares sparsify's engine against ONNX Runtime on the same model,
// machine and thread count; this is the ONNX Runtime side. Inputs are made
// from the model's own input metadata: the first symbolic dimension is the
// batch (--batch), other symbolic dimensions come from --dim NAME=V or
// --seq (default 128). Float inputs are uniform in [-1, 1); integer inputs
// whose name mentions "mask" are all ones, "type" (token_type_ids) all zeros,
// and anything else (token ids) uniform in [0, --vocab), so Gather stays in range.
//
// Usage: bench.js MODEL [--batch B] [--threads T] [--iters K] [--warmup W]
//                 [--seq S] [--dim NAME=V]... [--vocab V] [--json]
// Prints median latency and throughput (samples/s); --json prints one JSON
// object instead. Exit status: 0 success, 1 runtime error, 2 usage error.
'use strict';

const ort = require('onnxruntime-node');

const USAGE = 'usage: bench.js MODEL [--batch B] [--threads T] [--iters K] [--warmup W] ' +
  '[--seq S] [--dim NAME=V]... [--vocab V] [--json]';

function usage(msg) {
  console.error(`bench.js: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { batch: 1, threads: 1, iters: 20, warmup: 3, seq: 128, vocab: 100, json: false, dims: {} };
  const pos = [];
  const ints = { '--batch': 'batch', '--threads': 'threads', '--iters': 'iters', '--warmup': 'warmup',
    '--seq': 'seq', '--vocab': 'vocab' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in ints) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const v = argv[++i];
      const min = a === '--warmup' ? 0 : 1;
      if (!/^\d+$/.test(v) || Number(v) < min) usage(`${a} expects an integer >= ${min}, got '${v}'`);
      opt[ints[a]] = Number(v);
    } else if (a === '--dim') {
      const m = /^([^=]+)=([1-9]\d*)$/.exec(argv[++i] || '');
      if (!m) usage('--dim expects NAME=POSITIVE_INTEGER');
      opt.dims[m[1]] = Number(m[2]);
    } else if (a === '--json') {
      opt.json = true;
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) {
      usage(`unknown option '${a}'`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 1) usage('expected one MODEL');
  opt.model = pos[0];
  return opt;
}

// A small seeded generator (xorshift32) so every run times the same inputs.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function resolveShape(meta, opt) {
  let sawBatch = false;
  return meta.shape.map((d, axis) => {
    if (typeof d === 'number' && d > 0) return d;
    const name = typeof d === 'string' ? d : '';
    if (name && name in opt.dims) return opt.dims[name];
    if (axis === 0 && !sawBatch) {
      sawBatch = true;
      return opt.batch;
    }
    return opt.seq;
  });
}

function makeInput(meta, shape, opt, rand) {
  const n = shape.reduce((a, b) => a * b, 1);
  const lname = meta.name.toLowerCase();
  switch (meta.type) {
    case 'float32':
    case 'float64': {
      const data = meta.type === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = rand() * 2 - 1;
      return new ort.Tensor(meta.type, data, shape);
    }
    case 'int64':
    case 'int32': {
      const data = meta.type === 'int64' ? new BigInt64Array(n) : new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let v;
        if (lname.includes('mask')) v = 1;
        else if (lname.includes('type')) v = 0;
        else v = Math.floor(rand() * opt.vocab);
        data[i] = meta.type === 'int64' ? BigInt(v) : v;
      }
      return new ort.Tensor(meta.type, data, shape);
    }
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(n).fill(1), shape);
    default:
      throw new Error(`input '${meta.name}': no random generator for dtype ${meta.type}`);
  }
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(opt.model, {
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const rand = rng(12345);
  const feeds = {};
  const shapes = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`input '${meta.name}' is not a tensor`);
    shapes[meta.name] = resolveShape(meta, opt);
    feeds[meta.name] = makeInput(meta, shapes[meta.name], opt, rand);
  }
  for (let i = 0; i < opt.warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < opt.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const result = {
    runtime: 'onnxruntime-node',
    version: ort.env.versions.node,
    model: opt.model,
    batch: opt.batch,
    threads: opt.threads,
    iters: opt.iters,
    warmup: opt.warmup,
    inputs: shapes,
    latency_ms: {
      median,
      mean: ms.reduce((a, b) => a + b, 0) / ms.length,
      min: sorted[0],
      p90: pick(0.9),
    },
    throughput: (opt.batch * 1000) / median, // samples per second at the median latency
  };
  if (opt.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`${opt.model}: batch ${opt.batch}, ${opt.threads} thread(s), ${opt.iters} iters: ` +
      `median ${median.toFixed(3)} ms, throughput ${result.throughput.toFixed(2)} samples/s ` +
      `(ONNX Runtime ${result.version})`);
  }
}

main().catch((e) => {
  console.error(`bench.js: ${e.message}`);
  process.exit(1);
});
