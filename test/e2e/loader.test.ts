// bin/tfactl.cjs: the bundle and its V8 code cache (scripts/build.mjs). The cache must be taken by
// V8 as built, and a missing, damaged or foreign cache must only cost speed, never correctness.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of bin/ and dist/ (node_modules linked), so the cache can be damaged without harm. */
function copyInstall(): { root: string; bin: string; cache: string } {
  const root = mkdtempSync(join(tmpdir(), 'tfactl-loader-'));
  dirs.push(root);
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'dist'));
  copyFileSync(BIN, join(root, 'bin', 'tfactl.cjs'));
  // The whole of dist/: the bundle and its cache, and what it reads from beside it (the files
  // bundled aside, the common passwords).
  for (const file of readdirSync(join(ROOT, 'dist'))) copyFileSync(join(ROOT, 'dist', file), join(root, 'dist', file));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root, bin: join(root, 'bin', 'tfactl.cjs'), cache: join(root, 'dist', 'tfactl.cjs.cache') };
}

/** What load() says about the cache, from a fresh node process started like the command. */
function cacheState(bin: string): { cached: boolean; rejected: boolean } {
  const code = `const r = require(${JSON.stringify(bin)}).load(); console.log(JSON.stringify({ cached: r.cached, rejected: r.script.cachedDataRejected === true }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Runs a few commands against a fresh store: the same answers whatever the cache. */
function works(bin: string): void {
  const db = join(mkdtempSync(join(tmpdir(), 'tfactl-loader-db-')), 'tfactl.db');
  dirs.push(resolve(db, '..'));
  const run = (args: string[], input = '') => {
    const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, TFACTL_DB: db }, input, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };
  expect(run(['--version']).trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  run(['init']);
  run(['user', 'add', 'alice', '--password-stdin'], 'loader-password-1\n');
  expect(JSON.parse(run(['login', 'alice', '--password-stdin', '--json'], 'loader-password-1\n')).result.userid).toBe('alice@local');
  expect(JSON.parse(run(['user', 'list', '--json'])).result.map((u: { userid: string }) => u.userid)).toEqual(['alice@local', 'root@local']);
}

describe('the bundle and its code cache', () => {
  it('V8 takes the cache the build made', () => {
    expect(cacheState(BIN)).toEqual({ cached: true, rejected: false });
  });

  it('sets its V8 flag without loading node:v8 (and the stream modules it brings), and without a warning', () => {
    const code = `const before = new Set(process.moduleLoadList); require(${JSON.stringify(BIN)}).load();
      console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m) && /^NativeModule (v8|stream|internal\\/streams\\/)/.test(m))));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('a damaged cache is refused by V8 and the commands still work', () => {
    const { bin, cache } = copyInstall();
    const data = readFileSync(cache);
    for (let i = 200; i < data.length; i += 97) data[i] = (data[i] ?? 0) ^ 0xff;
    writeFileSync(cache, data);
    expect(cacheState(bin)).toEqual({ cached: true, rejected: true });
    works(bin);
  });

  it('a cache from another build is not offered to V8', () => {
    const { bin, cache } = copyInstall();
    const data = readFileSync(cache);
    data.write('0123456789abcdef0123456789abcdef', '/* tfactl build '.length, 'latin1');
    writeFileSync(cache, data);
    expect(cacheState(bin).cached).toBe(false);
    works(bin);
  });

  it('without a cache the commands work', () => {
    const { bin, cache } = copyInstall();
    rmSync(cache);
    expect(cacheState(bin).cached).toBe(false);
    works(bin);
  });

  it('keeps node-postgres and the WebAuthn verifier out of the bundle every command reads, each in a file of its own', () => {
    const bundle = readFileSync(join(dirname(BIN), '..', 'dist', 'tfactl.cjs'), 'latin1');
    expect(bundle).not.toContain('node_modules/pg/lib/client.js');
    expect(bundle).not.toContain('node_modules/@simplewebauthn/server');
    const pg = readFileSync(join(dirname(BIN), '..', 'dist', 'pg.cjs'), 'latin1');
    expect(pg).toContain('node_modules/pg/lib/client.js');
    // pg's Cloudflare check, which would load undici through Node 20's Response global, is left out.
    expect(pg).not.toMatch(/new Response\(null/);
  });

  it('started itself (node dist/tfactl.cjs), the bundle runs the command line as bin/tfactl.cjs does', () => {
    const { root } = copyInstall();
    works(join(root, 'dist', 'tfactl.cjs'));
    const r = spawnSync(process.execPath, [join(root, 'dist', 'tfactl.cjs'), 'bogus'], { encoding: 'utf8' });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/^error: .*bogus.*\n$/);
  });

  it('without the bundle: one line saying to build, exit 1', () => {
    const { root, bin } = copyInstall();
    rmSync(join(root, 'dist', 'tfactl.cjs'));
    const r = spawnSync(process.execPath, [bin, '--version'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error: dist/tfactl.cjs is missing: run `npm run build`\n');
  });
});
