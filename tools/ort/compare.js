#!/usr/bin/env node
// Compare two folders of .npz outputs element by element.
//
// The agreement tests run a model through sparsify and through ONNX Runtime
// (run.js) and need one verdict: do the outputs agree within tolerance? Every
// file in either folder must be in both, with the same keys, dtypes and
// shapes. An element matches when |a - b| <= atol + rtol * |b| (numpy's
// allclose, with B as the reference); NaN matches only NaN. Integer and bool
// arrays must match exactly. The report gives, for every output key, the
// worst absolute and relative error over all files, so a failure says how far
// off it was and where.
//
// Usage: compare.js A_DIR B_DIR [--rtol 1e-4] [--atol 1e-5]
// Exit status: 0 all agree, 1 a value mismatch, 2 missing files/keys, shape or
// dtype differences, unreadable files, or a usage error.
'use strict';

const path = require('path');
const { readNpz, listNpz, numberAt } = require('./npz');

const USAGE = 'usage: compare.js A_DIR B_DIR [--rtol R] [--atol A]';

function usage(msg) {
  console.error(`compare.js: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const pos = [];
  const opt = { rtol: 1e-4, atol: 1e-5 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rtol' || a === '--atol') {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) usage(`${a} expects a non-negative number, got '${argv[i]}'`);
      opt[a.slice(2)] = v;
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('--')) {
      usage(`unknown option '${a}'`);
    } else {
      pos.push(a);
    }
  }
  if (pos.length !== 2) usage('expected A_DIR B_DIR');
  [opt.a, opt.b] = pos;
  return opt;
}

const INTEGRAL = new Set(['int64', 'int32', 'int8', 'uint8', 'bool']);

function main() {
  const opt = parseArgs(process.argv.slice(2));
  const problems = []; // structural: missing files/keys, shapes, dtypes
  const filesA = listNpz(opt.a);
  const filesB = listNpz(opt.b);
  const setB = new Set(filesB);
  for (const f of filesB) if (!filesA.includes(f)) problems.push(`${path.join(opt.a, f)}: missing (present in ${opt.b})`);
  if (filesA.length === 0 && filesB.length === 0) problems.push(`${opt.a}, ${opt.b}: no .npz files to compare`);

  // Per output key: worst errors over all files, and the count of bad elements.
  const stats = {};
  for (const f of filesA) {
    if (!setB.has(f)) {
      problems.push(`${path.join(opt.b, f)}: missing (present in ${opt.a})`);
      continue;
    }
    let a;
    let b;
    try {
      a = readNpz(path.join(opt.a, f));
      b = readNpz(path.join(opt.b, f));
    } catch (e) {
      problems.push(e.message);
      continue;
    }
    for (const k of Object.keys(b)) if (!(k in a)) problems.push(`${path.join(opt.a, f)}: missing key '${k}'`);
    for (const k of Object.keys(a)) {
      if (!(k in b)) {
        problems.push(`${path.join(opt.b, f)}: missing key '${k}'`);
        continue;
      }
      const x = a[k];
      const y = b[k];
      if (x.type !== y.type) {
        problems.push(`${f}: key '${k}': dtype ${x.type} vs ${y.type}`);
        continue;
      }
      if (x.dims.length !== y.dims.length || x.dims.some((d, i) => d !== y.dims[i])) {
        problems.push(`${f}: key '${k}': shape [${x.dims}] vs [${y.dims}]`);
        continue;
      }
      const s = stats[k] || (stats[k] = { abs: 0, rel: 0, bad: 0, total: 0, first: null });
      const exact = INTEGRAL.has(x.type);
      const n = x.data.length;
      for (let i = 0; i < n; i++) {
        const u = numberAt(x, i);
        const v = numberAt(y, i);
        let ok;
        let err;
        if (Number.isNaN(u) || Number.isNaN(v)) {
          ok = Number.isNaN(u) && Number.isNaN(v);
          err = ok ? 0 : Infinity;
        } else if (u === v) {
          ok = true; // also covers equal infinities
          err = 0;
        } else {
          err = Math.abs(u - v);
          ok = exact ? false : err <= opt.atol + opt.rtol * Math.abs(v);
        }
        // Relative to max(|b|, atol), so reference values near zero do not swamp it.
        const rel = err === 0 ? 0 : err / Math.max(Math.abs(v), opt.atol, Number.MIN_VALUE);
        if (err > s.abs) s.abs = err;
        if (rel > s.rel && Number.isFinite(rel)) s.rel = rel;
        if (!ok) {
          s.bad++;
          if (!s.first) s.first = `${f}[${i}]: ${u} vs ${v}`;
        }
      }
      s.total += n;
    }
  }

  let mismatch = false;
  for (const k of Object.keys(stats).sort()) {
    const s = stats[k];
    const verdict = s.bad ? `MISMATCH ${s.bad}/${s.total} elements, first ${s.first}` : 'ok';
    console.log(`${k}: max abs err ${s.abs.toExponential(3)}, max rel err ${s.rel.toExponential(3)} ` +
      `(${s.total} elements) ${verdict}`);
    if (s.bad) mismatch = true;
  }
  for (const p of problems) console.error(`compare.js: ${p}`);
  const nfiles = filesA.filter((f) => setB.has(f)).length;
  if (problems.length) {
    console.error(`compare.js: FAIL: ${problems.length} structural problem(s)`);
    process.exit(2);
  }
  if (mismatch) {
    console.error(`compare.js: FAIL: values differ beyond rtol ${opt.rtol}, atol ${opt.atol}`);
    process.exit(1);
  }
  console.log(`compare.js: OK: ${nfiles} files agree within rtol ${opt.rtol}, atol ${opt.atol}`);
}

try {
  main();
} catch (e) {
  console.error(`compare.js: ${e.message}`);
  process.exit(2);
}
