#!/usr/bin/env node
'use strict';
// tfactl's command. It runs dist/tfactl.cjs (`npm run build` makes it) with the V8 code cache made
// beside it at build time, so common commands start without parsing or compiling their code.
// Plain CommonJS on purpose: an ES module entry point costs Node about 2 ms more to start.
const fs = require('node:fs');
const path = require('node:path');

const BUNDLE = path.join(__dirname, '..', 'dist', 'tfactl.cjs');
const CACHE = `${BUNDLE}.cache`;
const PAM_BUNDLE = path.join(__dirname, '..', 'dist', 'tfactl-pam.cjs');
// The bundle's first line names its build (a hash of its contents); the cache starts with the same
// text. A cache from another build is not used (V8 itself only compares the length of the source).
const BUILD_ID = /^\/\* tfactl build [0-9a-f]{32} \*\//;

/**
 * Compiles and runs the bundle; returns its exports, the compiled script (scripts/warm-cache.cjs
 * makes the cache from it) and whether a cache was offered to V8 (`script.cachedDataRejected` says
 * whether V8 took it). Without a usable cache the bundle is compiled from source, only slower.
 */
function load(useCache = true) {
  let source;
  try {
    // Pure ASCII (checked at build time), so latin1 gives the same text without UTF-8 decoding.
    source = fs.readFileSync(BUNDLE, 'latin1');
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
    process.stderr.write(`error: ${path.relative(process.cwd(), BUNDLE)} is missing: run \`npm run build\`\n`);
    process.exit(1);
  }
  const id = BUILD_ID.exec(source)?.[0];
  let cachedData;
  if (useCache && id !== undefined) {
    try {
      const cache = fs.readFileSync(CACHE);
      if (cache.toString('latin1', 0, id.length) === id) cachedData = cache.subarray(id.length);
    } catch {
      // No cache: compile from source.
    }
  }
  // V8 checks a code cache's version, flags and length, but not its contents unless told to: a
  // damaged cache would crash the process or run the wrong code. With this flag, set the same way
  // when the cache is made, V8 adds a checksum and refuses a cache that does not match it.
  setV8Flag('--verify-snapshot-checksum');
  const vm = require('node:vm');
  // Node's own CommonJS wrapper, on the same line as the bundle's first, so line numbers hold.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: BUNDLE,
    cachedData,
  });
  const mod = { exports: {} };
  // This file's own require: it resolves what the bundle asks for (node_modules of the same
  // package) as one made for dist/ would, without node:module's createRequire (about 1.5 ms).
  script.runInThisContext()(mod.exports, require, mod, BUNDLE, path.dirname(BUNDLE));
  return { exports: mod.exports, script, id, cached: cachedData !== undefined };
}

/**
 * Sets a V8 flag. node:v8's setFlagsFromString is the documented way, but loading node:v8 loads
 * the stream modules for its heap snapshots: about 2.5 ms of every start. The same function of
 * Node's internal binding (what node:v8 calls) is taken when Node still lends it, its deprecation
 * warning kept quiet; else node:v8's.
 */
function setV8Flag(flag) {
  const warn = process.noDeprecation;
  process.noDeprecation = true;
  let binding = null;
  try {
    binding = process.binding('v8');
  } catch {
    // Not lent (a later Node): node:v8 below.
  } finally {
    process.noDeprecation = warn;
  }
  if (typeof binding?.setFlagsFromString === 'function') binding.setFlagsFromString(flag);
  else require('node:v8').setFlagsFromString(flag);
}

/** The PAM bundle, or null when it is not there (the whole tfactl then runs the line). */
function pamBundle() {
  try {
    return require(PAM_BUNDLE);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    return null;
  }
}

/** Runs the command line: what `tfactl` and `node dist/tfactl.cjs` (the bundle's last line) do. */
function start() {
  const runMain = () => {
    // argon2 hashes on libuv's thread pool, 4 threads unless told otherwise: let bulk imports use
    // every core. Must be set before the pool starts, so before anything else runs.
    process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, require('node:os').availableParallelism()));
    load().exports.runProcess();
  };
  const argv = process.argv.slice(2);
  // What pam_exec runs at every sign-in through a tfactl service: a bundle of its own without the
  // command tree (src/pam-main.ts) takes it, and hands back, untouched, any other command line.
  const pam = argv.includes('pam') && argv.includes('--server') ? pamBundle() : null;
  if (pam) pam.runPamProcess().then((handled) => handled || runMain());
  else runMain();
}

if (require.main === module) start();
else module.exports = { load, start, BUNDLE, CACHE };
