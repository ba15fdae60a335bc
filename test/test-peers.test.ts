import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript, no declarations
import { BENCH_PEERS, findOnPath, PEERS } from '../scripts/test-peers.mjs';

type Peer = { command: string; package: string; for: string; probe?: readonly string[] };
const peers = PEERS as readonly Peer[];
const benchPeers = BENCH_PEERS as readonly Peer[];

const ROOT = resolve(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'scripts/test-peers.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'tfactl-peers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const sudo = process.getuid?.() === 0 ? '' : 'sudo ';

/**
 * A PATH that has every peer except `without`, and apt-get (so only the mode, not a missing
 * apt-get, can keep the script from installing): one directory of links to the real programs.
 */
function pathWithout(...without: string[]): string {
  const dir = mkdtempSync(join(scratch, 'bin-'));
  // Peers found by a probe (a python module) are not programs on the PATH.
  for (const command of [...peers.filter((p) => !p.probe).map((p) => p.command), 'apt-get']) {
    if (without.includes(command)) continue;
    const real = findOnPath(command) as string | undefined;
    expect(real, `${command} is on this machine's PATH (npm test installs it)`).toBeDefined();
    try {
      symlinkSync(real!, join(dir, command));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return dir;
}

/** The real script, as npm's pretest runs it, with the given PATH, arguments and environment. */
function runPeers(path: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, asUid?: number) {
  const base = { PATH: path, HOME: process.env.HOME, ...env };
  const argv = [SCRIPT, ...args];
  const r =
    asUid === undefined
      ? spawnSync(process.execPath, argv, { env: base, encoding: 'utf8' })
      : // Another OS user (not root), in a user namespace, as store.test.ts does.
        spawnSync(findOnPath('unshare')!, [`--user`, `--map-user=${asUid}`, `--map-group=${asUid}`, process.execPath, ...argv], { env: base, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

describe('the test peers check (scripts/test-peers.mjs)', () => {
  it('runs first in npm test, before the build', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toMatch(/^node scripts\/test-peers\.mjs && npm run build( |$)/);
  });

  it('runs first in npm run bench, before the build, with the bench\'s own peers', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.bench).toMatch(/^node scripts\/test-peers\.mjs --bench && npm run build && node scripts\/bench\.mjs$/);
  });

  it('with --bench, checks the bench\'s peers too, in the same one line', () => {
    // google-authenticator's module is the bench's alone: npm test does not install it, so whether
    // it is named depends on this machine, which the probe's own command tells independently.
    const [cmd, ...args] = benchPeers[0]!.probe!;
    const hasModule = spawnSync(cmd!, args).status === 0;
    const r = runPeers(pathWithout('fish'), ['--check', '--bench']);
    expect(r.stderr).toBe(
      hasModule
        ? `missing test and bench peers: fish (install them: ${sudo}apt-get install fish)\n`
        : `missing test and bench peers: fish, pam_google_authenticator.so (install them: ${sudo}apt-get install fish libpam-google-authenticator)\n`,
    );
    expect(r.status).toBe(1);
  });

  it('says nothing and exits 0 when every peer is there', () => {
    const r = runPeers(process.env.PATH ?? '', ['--check']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it.each([
    ['--check', ['--check'], {}],
    ['TFACTL_TEST_PEERS=check', [], { TFACTL_TEST_PEERS: 'check' }],
  ])('with %s, names the missing peers and the command that installs them in one line, exit 1', (_how, args, env) => {
    const r = runPeers(pathWithout('oathtool', 'zsh'), args, env);
    expect(r.stderr).toBe(`missing test peers: oathtool, zsh (install them: ${sudo}apt-get install oathtool zsh)\n`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
  });

  it('names each Debian package once, however many missing peers it has', () => {
    const r = runPeers(pathWithout('mkfifo', 'fish', 'seq'), ['--check']);
    expect(r.stderr).toBe(`missing test peers: fish, mkfifo, seq (install them: ${sudo}apt-get install fish coreutils)\n`);
    expect(r.status).toBe(1);
  });

  it('does not try to install as an OS user other than root: it names the sudo command', () => {
    const r = runPeers(pathWithout('fish'), [], {}, 1000);
    expect(r.stderr).toBe('missing test peers: fish (install them: sudo apt-get install fish)\n');
    expect(r.status).toBe(1);
  });

  it('refuses an unknown mode rather than installing', () => {
    const r = runPeers(pathWithout('fish'), [], { TFACTL_TEST_PEERS: 'chek' });
    expect(r.stderr).toBe('test-peers: TFACTL_TEST_PEERS=chek is not known (only --check, --bench, TFACTL_TEST_PEERS=check)\n');
    expect(r.status).toBe(2);
  });

  it('lists every program the tests run by name', () => {
    // Programs spawned by name from TypeScript (spawn, spawnSync, execFileSync, completions.test.ts's
    // shell) and from python.
    const spawned = /\b(?:spawn|spawnSync|execFile|execFileSync|shell)\(\s*'([^'/]+)'|subprocess\.\w+\(\s*\["([^"/]+)"/g;
    const files = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|py)$/.test(f));
    const programs = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(join(ROOT, 'test', f), 'utf8').matchAll(spawned)) programs.add((m[1] ?? m[2])!);
    }
    // The scan finds what it should: the shells, python3 and the independent implementations.
    expect([...programs]).toEqual(expect.arrayContaining(['python3', 'oathtool', 'zbarimg', 'rsvg-convert', 'yubikey', 'bash', 'zsh', 'fish', 'unshare', 'mkfifo']));
    const listed = peers.map((p) => p.command);
    for (const program of programs) expect(listed, `${program} has a row in scripts/test-peers.mjs`).toContain(program);
  });

  it('gives every peer a Debian package and a reason', () => {
    for (const p of [...peers, ...benchPeers]) {
      expect(p.package, p.command).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(p.for.length, p.command).toBeGreaterThan(10);
    }
  });
});
