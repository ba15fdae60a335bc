import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, runBin, storeFactory } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const PASSWORD = 'complete password 1';

const fresh = storeFactory();

const store = fresh();
let aliceFactors: { id: string; type: string; description: string }[] = [];
beforeAll(async () => {
  expect((await store.run(['realm', 'add', 'corp', '--comment', 'corporate accounts'])).code).toBe(0);
  await store.addUser('alice', PASSWORD, ['--tfa', 'totp', '--no-verify', '--qr', 'none']);
  await store.addUser('bob@corp', PASSWORD);
  await store.run(['tfa', 'add', 'recovery', 'alice']);
  const listed = await store.run(['tfa', 'list', 'alice', '--json']);
  aliceFactors = listed.json().result[0].factors;
  await store.run(['tfa', 'disable', 'alice', aliceFactors.find((f) => f.type === 'recovery')!.id]);
});

describe('tfactl __complete (for the completion scripts)', () => {
  it('prints the user ids, one a line', async () => {
    const r = await store.run(['__complete', 'users']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('alice@local\nbob@corp\nroot@local\n');
  });

  it('offers nothing to root run by sudo for another user (a sudo rule for tfactl --as): they would see every user and factor unsigned', async () => {
    for (const env of [{ SUDO_UID: '1001', SUDO_USER: 'alice' }, { SUDO_UID: '1001', SUDO_USER: 'alice', TFACTL_AS: 'alice' }]) {
      for (const kind of [['users'], ['realms'], ['factors', 'alice']]) {
        const r = await store.run(['__complete', ...kind], { env });
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('');
      }
    }
    // Root's own sudo (SUDO_UID 0) is root.
    expect((await store.run(['__complete', 'users'], { env: { SUDO_UID: '0' } })).stdout).toBe('alice@local\nbob@corp\nroot@local\n');
  });

  it('prints only the user ids that start with what has been typed (after --), as they are', async () => {
    expect((await store.run(['__complete', 'users', '--', 'b'])).stdout).toBe('bob@corp\n');
    expect((await store.run(['__complete', 'users', '--', 'alice@'])).stdout).toBe('alice@local\n');
    expect((await store.run(['__complete', 'users', '--', 'A'])).stdout).toBe('');
    expect((await store.run(['__complete', 'users', '--', '-x'])).stdout).toBe('');
    expect((await store.run(['__complete', 'users', '--', '%'])).stdout).toBe('');
  });

  it('prints the realms, with their comments on one line after a tab', async () => {
    const r = await store.run(['__complete', 'realms']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('corp\tcorporate accounts\nlocal\tbuilt-in realm\n');
  });

  it('prints the setting names, with what each is after a tab, for settings set and unset', async () => {
    const r = await store.run(['__complete', 'settings']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const listed = (await store.run(['settings', 'list', '--json'])).json().result as { key: string; description: string }[];
    expect(lines).toEqual(listed.map((x) => `${x.key}\t${x.description}`).sort());
  });

  it("prints a user's factor ids with what each is, a bare name meaning realm local", async () => {
    const expected = [...aliceFactors].sort((a, b) => (a.id < b.id ? -1 : 1)).map((f) => `${f.id}\t${f.type}: ${f.description}${f.type === 'recovery' ? ' (disabled)' : ''}\n`).join('');
    for (const userid of ['alice', 'alice@local']) {
      const r = await store.run(['__complete', 'factors', userid]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected);
    }
    expect(aliceFactors).toHaveLength(2);
  });

  it('prints nothing for the factors of an unknown, invalid or missing user id', async () => {
    for (const args of [['factors', 'nobody'], ['factors', 'a b@'], ['factors']]) {
      const r = await store.run(['__complete', ...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });

  it('gives --json the candidates as the result', async () => {
    const r = await store.run(['__complete', 'realms', '--json']);
    expect(r.json().result).toEqual([
      { value: 'corp', description: 'corporate accounts' },
      { value: 'local', description: 'built-in realm' },
    ]);
  });

  it('reads the store --db names, before TFACTL_DB', async () => {
    const other = fresh();
    await other.addUser('carol', PASSWORD);
    const r = await store.run(['--db', other.db, '__complete', 'users']);
    expect(r.stdout).toBe('carol@local\nroot@local\n');
  });

  it('never signs anyone in: --as and TFACTL_AS are not used, nothing is asked or read', async () => {
    const viaFlag = await store.run(['--as', 'alice', '--password-stdin', '__complete', 'users'], { timeoutMs: 10_000 });
    const viaEnv = await store.run(['__complete', 'users'], { env: { TFACTL_AS: 'bob@corp' }, timeoutMs: 10_000 });
    for (const r of [viaFlag, viaEnv]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('alice@local\nbob@corp\nroot@local\n');
      expect(r.stderr).toBe('');
    }
    const audit = store.auditRows().filter((a) => a.action === 'auth');
    expect(audit).toEqual([]);
  });

  it('prints nothing and exits 0 when there is no store, and creates none', async () => {
    const s = fresh();
    const r = await s.run(['__complete', 'users']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(s.exists()).toBe(false);
  });

  it('is hidden: not in the help, nor offered by the completion scripts', async () => {
    const help = await runBin(['--help']);
    expect(help.stdout).not.toContain('__complete');
    const offered = { 'tfactl.bash': /cmds='[^']*__complete/, _tfactl: /'__complete:/, 'tfactl.fish': /-a __complete\b/ };
    for (const [file, offer] of Object.entries(offered)) {
      const text = readFileSync(join(ROOT, 'completions', file), 'utf8');
      expect(text, file).not.toMatch(offer);
      expect(text, file).toContain(' __complete ');
    }
  });
});

describe('tfactl completion SHELL', () => {
  it.each([
    ['bash', 'tfactl.bash'],
    ['zsh', '_tfactl'],
    ['fish', 'tfactl.fish'],
  ])('prints the %s script the package ships, completions/%s, byte for byte', async (shell, file) => {
    const r = await runBin(['completion', shell]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'completions', file), 'utf8'));
    const json = await runBin(['completion', shell, '--json']);
    expect(json.json().result.script).toBe(r.stdout);
  });

  it('refuses another shell in one line, exit 2', async () => {
    const r = await runBin(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toBe('error: invalid shell "tcsh": expected bash, zsh or fish');
    expect(r.stdout).toBe('');
  });

  it('reads the files beside the bundle, wherever the package is installed; the bundle has no copy', async () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'tfactl.cjs'), 'latin1');
    expect(bundle).not.toContain('_tfactl_node()');
    expect(bundle).not.toContain('complete -c tfactl');

    const s = fresh();
    const installed = join(s.dir, 'lib', 'node_modules', 'tfactl');
    for (const dir of ['bin', 'dist', 'completions']) cpSync(join(ROOT, dir), join(installed, dir), { recursive: true });
    writeFileSync(join(installed, 'package.json'), readFileSync(join(ROOT, 'package.json')));
    const r = spawnSync(process.execPath, [join(installed, 'bin', 'tfactl.cjs'), 'completion', 'fish'], { encoding: 'utf8', cwd: s.dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'completions', 'tfactl.fish'), 'utf8'));
    // Without the file the installation is broken: one line that says so.
    rmSync(join(installed, 'completions', '_tfactl'));
    const broken = spawnSync(process.execPath, [join(installed, 'bin', 'tfactl.cjs'), 'completion', 'zsh'], { encoding: 'utf8', cwd: s.dir });
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toMatch(/^error: the zsh completion file \S+\/completions\/_tfactl is missing from this installation \(ENOENT\)\n$/);
  });
});
