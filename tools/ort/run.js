#!/usr/bin/env node
// Run an ONNX model in ONNX Runtime over a folder of .npz samples.
//
// This is the reference half of sparsify's agreement tests: `sparsify run` and
// this script read the same folder (one sample per .npz, no batch dimension,
// keys = input names) and write the same layout (one .npz per sample with
// every graph output, no batch dimension), so compare.js can diff the two.
//
// Usage: run.js MODEL DATA_DIR OUT_DIR [--threads T] [--graph-opt LEVEL]
//   --threads T        intra-op threads (default 1)
//   --graph-opt LEVEL  disabled | basic | extended | all (default all); 'disabled'
//                      keeps QDQ models unfused (see docs on ORT's u8s8 kernels)
// Exit status: 0 success, 1 runtime or data error, 2 usage error.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpz, writeNpz, listNpz, numberAt } = require('./npz');

const USAGE = 'usage: run.js MODEL DATA_DIR OUT_DIR [--threads T] [--graph-opt disabled|basic|extended|all]';

function parseArgs(argv) {
  const pos = [];
  const opt = { threads: 1, graphOpt: 'all' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads' || a === '--graph-opt') {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const v = argv[++i];
      if (a === '--threads') {
        if (!/^[1-9]\d*$/.test(v)) usage(`--threads expects a positive integer, got '${v}'`);
        opt.threads = Number(v);
      } else {
        if (!['disabled', 'basic', 'extended', 'all'].includes(v)) usage(`--graph-opt: unknown level '${v}'`);
        opt.graphOpt = v;
      }
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) {
      usage(`unknown option '${a}'`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 3) usage('expected MODEL DATA_DIR OUT_DIR');
  [opt.model, opt.data, opt.out] = pos;
  return opt;
}

function usage(msg) {
  console.error(`run.js: ${msg}\n${USAGE}`);
  process.exit(2);
}

// Lossless casts only (int32->int64, float16->float32, float32->float64),
// the same rule sparsify applies to calibration data.
function castFor(arr, want, where) {
  if (arr.type === want) return arr;
  if (arr.type === 'int32' && want === 'int64') {
    return { type: want, dims: arr.dims, data: BigInt64Array.from(arr.data, (v) => BigInt(v)) };
  }
  if (arr.type === 'float32' && want === 'float64') {
    return { type: want, dims: arr.dims, data: Float64Array.from(arr.data) };
  }
  if (arr.type === 'float16' && want === 'float32') {
    return { type: want, dims: arr.dims, data: Float32Array.from(arr.data, (_, i) => numberAt(arr, i)) };
  }
  throw new Error(`${where}: dtype ${arr.type} cannot be cast losslessly to the model's ${want}`);
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(opt.model, {
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opt.graphOpt,
    logSeverityLevel: 3,
  });
  const meta = {};
  for (const m of session.inputMetadata) meta[m.name] = m;

  const files = listNpz(opt.data);
  if (files.length === 0) throw new Error(`${opt.data}: no .npz files`);
  fs.mkdirSync(opt.out, { recursive: true });

  for (const f of files) {
    const file = path.join(opt.data, f);
    const sample = readNpz(file);
    for (const key of Object.keys(sample)) {
      if (!(key in meta)) throw new Error(`${file}: key '${key}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
    }
    const feeds = {};
    for (const name of session.inputNames) {
      if (!(name in sample)) throw new Error(`${file}: missing key '${name}'`);
      const arr = castFor(sample[name], meta[name].type, `${file}: key '${name}'`);
      feeds[name] = new ort.Tensor(arr.type, arr.data, [1, ...arr.dims]);
    }
    const results = await session.run(feeds);
    const outputs = {};
    for (const name of session.outputNames) {
      const t = results[name];
      if (t.dims.length === 0 || t.dims[0] !== 1) {
        throw new Error(`${file}: output '${name}' has shape [${t.dims}], expected a leading batch dimension of 1`);
      }
      outputs[name] = { type: t.type, dims: t.dims.slice(1), data: t.data };
    }
    writeNpz(path.join(opt.out, f), outputs);
  }
  console.log(`run.js: ${files.length} samples through ${opt.model} -> ${opt.out}`);
}

main().catch((e) => {
  console.error(`run.js: ${e.message}`);
  process.exit(1);
});
