import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { textWidth } from '../../src/text-width.js';
import { BIN, TempStore } from './harness.js';

/** Runs tfactl on a real pseudo-terminal (test/e2e/pty-driver.py), answering prompts. */
interface Step {
  expect: string;
  send?: string;
  /** A signal (its number) to send instead of text. */
  kill?: number;
  /** A command to run instead, sending what it prints. */
  send_command?: string[];
}
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
function runPty(store: TempStore, args: string[], steps: Step[], env: Record<string, string | null> = {}, cols = 120, stdoutTo?: string) {
  // `stdoutTo`: standard output redirected there (by a shell), the terminal keeping the rest.
  const argv = stdoutTo === undefined ? [process.execPath, BIN, ...args] : ['sh', '-c', 'f="$1"; shift; exec "$@" > "$f"', 'sh', stdoutTo, process.execPath, BIN, ...args];
  const spec = { argv, env: { ...store.env, NO_COLOR: null, ...env }, steps, timeout: 30, cols };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}

const ESC = '\u001b[';
const store = new TempStore();
beforeAll(async () => {
  await store.run(['init']);
});
afterAll(() => store.remove());

describe('on a terminal', () => {
  it('wraps help to the terminal\'s width, also the help shown for a missing command (on stderr)', () => {
    const widest = (output: string) => Math.max(...output.split(/\r?\n/).map((l) => l.length));
    for (const args of [['user', '--help'], ['user']]) {
      const wide = runPty(store, args, [], {}, 160);
      const narrow = runPty(store, args, [], {}, 90);
      expect(wide.output, args.join(' ')).toContain('Usage: tfactl user');
      expect(widest(wide.output), args.join(' ')).toBeGreaterThan(90);
      expect(widest(narrow.output), args.join(' ')).toBeLessThanOrEqual(90);
    }
  });

  it('asks for a new password twice and creates the user, never showing what was typed (Ctrl-T included)', () => {
    const r = runPty(store, ['user', 'add', 'tina'], [
      // Ctrl-T, which the prompt library would take to show the input.
      { expect: 'Enter a new password for tina@local', send: 'tina password 1\u0014\r' },
      { expect: 'Repeat the new password for tina@local', send: 'tina password 1\r' },
    ]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    expect(r.output).not.toContain('tina password 1');
    expect(r.output).not.toContain('toggle visibility');
    expect(store.read<{ password: boolean }>(['user', 'show', 'tina@local']).password).toBe(true);
  });

  it('asks nothing for a user who is not there: tfa add totp and webauthn say so first (exit 3)', () => {
    for (const kind of ['totp', 'webauthn']) {
      const r = runPty(store, ['tfa', 'add', kind, 'nosuch'], []);
      expect(r.status, r.output).toBe(3);
      expect(r.output).not.toContain('Description');
      expect(r.output).toContain('user nosuch@local does not exist');
    }
  });

  it('asks for no TOTP code when standard output, where the QR code and secret go, is not the terminal', async () => {
    await store.addUser('otto', 'otto password 1');
    for (const [args, to] of [
      [['tfa', 'add', 'totp', 'otto'], '/dev/null'],
      [['tfa', 'add', 'totp', 'otto', '--description', 'x'], join(store.dir, 'otto-setup.txt')],
    ] as const) {
      const r = runPty(store, [...args], [], { NO_COLOR: '1' }, 120, to);
      expect(r.status, r.output).toBe(2);
      expect(r.output).toMatch(/^error: standard output is not a terminal, so the QR code and secret would not be shown before the question for their code: run it without redirecting standard output, draw the code to a file with --qr png:FILE, or give a secret with --secret/m);
      expect(r.output).not.toContain('Verification code');
    }
    expect(store.factorsOf('otto')).toEqual([]);
  });

  it('enrols with --json on a terminal when the QR code goes to a file or the secret is in the app already', async () => {
    await store.addUser('jo', 'jo password 1');
    const png = join(store.dir, 'jo.png');
    const out = join(store.dir, 'jo.json');
    // The code of the secret the PNG holds, read back by zbarimg as an app would scan it.
    const fromPng = ['sh', '-c', `oathtool --totp -b "$(zbarimg -q --raw '${png}' | sed -n 's/.*[?&]secret=\\([A-Z2-7]*\\).*/\\1/p')"`];
    const r = runPty(store, ['tfa', 'add', 'totp', 'jo', '--json', '--qr', `png:${png}`], [{ expect: 'Verification code', send_command: fromPng }], {}, 120, out);
    expect(r.status, r.output).toBe(0);
    const envelope = JSON.parse(readFileSync(out, 'utf8'));
    expect(envelope).toMatchObject({ ok: true, result: { userid: 'jo@local' } });
    expect(store.factorsOf('jo')).toHaveLength(1);
    // A secret entered in the app first: nothing to draw, the code asked for on the terminal.
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const given = runPty(store, ['tfa', 'add', 'totp', 'jo', '--json', '--secret', secret], [{ expect: 'Verification code', send_command: ['oathtool', '--totp', '-b', secret] }], {}, 120, out);
    expect(given.status, given.output).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).ok).toBe(true);
    expect(store.factorsOf('jo')).toHaveLength(2);
    // Neither: nothing would be drawn to scan, so nothing is asked.
    const neither = runPty(store, ['tfa', 'add', 'totp', 'jo', '--json'], [], {}, 120, out);
    expect(neither.status, neither.output).toBe(2);
    expect(JSON.parse(readFileSync(out, 'utf8')).error).toEqual({
      code: 'no_tty',
      message: expect.stringMatching(/^with --json nothing is drawn to scan on standard output: draw the code to a file with --qr png:FILE, or give a secret with --secret/),
    });
    expect(store.factorsOf('jo')).toHaveLength(2);
  });

  it('asks whether to replace the recovery keys before --as signs in, so a no spends no code', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXR';
    await store.addUser('rhea', 'rhea password 1', ['--tfa', 'totp', '--totp-secret', secret, '--no-verify', '--qr', 'none']);
    expect((await store.run(['tfa', 'add', 'recovery', 'rhea', '--output', join(store.dir, 'rhea-keys')])).code).toBe(0);
    const args = ['--as', 'rhea', 'tfa', 'add', 'recovery', 'rhea', '--regenerate', '--output', join(store.dir, 'rhea-new-keys')];
    const no = runPty(store, args, [{ expect: 'Replace the recovery keys of rhea@local\\? Any not yet used stop working', send: 'n\r' }]);
    expect(no.status, no.output).toBe(130);
    expect(no.output).not.toContain('password of rhea');
    // A file that is there is refused before the question and the sign-in too.
    const taken = runPty(store, ['--as', 'rhea', 'tfa', 'add', 'recovery', 'rhea', '--regenerate', '--output', join(store.dir, 'rhea-keys')], []);
    expect(taken.status, taken.output).toBe(4);
    expect(taken.output).toContain('rhea-keys exists');
    expect(taken.output).not.toMatch(/password of rhea|Replace the recovery keys/);
    // Nothing was replaced: a key of the first set still signs in.
    const firstKey = /[A-Za-z0-9]{4}(?:-[A-Za-z0-9]{4}){3}/.exec(readFileSync(join(store.dir, 'rhea-keys'), 'utf8'))?.[0];
    expect(firstKey).toBeDefined();
    expect((await store.run(['login', 'rhea', '--type', 'recovery', '--password-stdin', '--code', '-', '--no-session'], { input: `rhea password 1\n${firstKey}\n` })).code).toBe(0);
    const yes = runPty(store, args, [
      { expect: 'Replace the recovery keys of rhea@local\\?', send: 'y\r' },
      { expect: 'Enter the password of rhea@local', send: 'rhea password 1\r' },
      { expect: 'code', send_command: ['oathtool', '--totp', '-b', secret] },
    ]);
    expect(yes.unmatched).toBeNull();
    expect(yes.status, yes.output).toBe(0);
    expect(yes.output.replace(/\u001b\[[0-9;]*m/g, '')).toContain('replaced recovery keys for rhea@local');
  });

  it('asks before --as signs in whether to delete a user, their factors or a realm, so a no spends no code', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXS';
    await store.addUser('delia', 'delia password 1', ['--admin', '--tfa', 'totp', '--totp-secret', secret, '--no-verify', '--qr', 'none']);
    await store.addUser('gone', 'gone password 1');
    expect((await store.run(['tfa', 'add', 'recovery', 'gone', '--output', join(store.dir, 'gone-keys')])).code).toBe(0);
    expect((await store.run(['realm', 'add', 'shortlived'])).code).toBe(0);
    for (const [args, question] of [
      [['user', 'delete', 'gone'], 'Delete gone@local and every factor of theirs\\?'],
      [['tfa', 'delete', 'gone', '--all'], 'Delete every second factor of gone@local\\?'],
      [['tfa', 'delete', 'gone', '--type', 'recovery'], 'Delete every recovery factor of gone@local\\?'],
      [['realm', 'delete', 'shortlived'], 'Delete realm shortlived\\?'],
    ] as const) {
      const no = runPty(store, ['--as', 'delia', ...args], [{ expect: question, send: 'n\r' }]);
      expect(no.unmatched, no.output).toBeNull();
      expect(no.status, no.output).toBe(130);
      expect(no.output).not.toContain('password of delia');
    }
    expect(store.factorsOf('gone')).toHaveLength(1);
    const yes = runPty(store, ['--as', 'delia', 'user', 'delete', 'gone'], [
      { expect: 'Delete gone@local and every factor of theirs\\?', send: 'y\r' },
      { expect: 'Enter the password of delia@local', send: 'delia password 1\r' },
      { expect: 'code', send_command: ['oathtool', '--totp', '-b', secret] },
    ]);
    expect(yes.unmatched, yes.output).toBeNull();
    expect(yes.status, yes.output).toBe(0);
    // Asked once: not again after the sign-in.
    expect(yes.output.slice(yes.output.indexOf('password of delia'))).not.toContain('Delete gone@local');
    expect((await store.run(['user', 'show', 'gone'])).code).toBe(3);
  });

  it('asks for the acting user\'s password with --as', () => {
    const r = runPty(store, ['--as', 'tina', 'user', 'show', 'tina'], [{ expect: 'Enter the password of tina@local', send: 'tina password 1\r' }]);
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/user:.*tina@local/);
  });

  it('changes nothing when the acting admin is revoked while the command waits at a prompt', async () => {
    const envText = Object.entries(store.env).map(([k, v]) => `${k}='${v}'`).join(' ');
    // Their output to a file: a token made again is refused to /dev/null (its value would reach no one).
    const rootOut = join(store.dir, 'as-root.out');
    // The commands run as root, then what types the answer.
    const asRootThen = (answer: string, ...commands: string[]) => ['sh', '-c', `${commands.map((args) => `env ${envText} "${process.execPath}" "${BIN}" ${args} >>'${rootOut}' 2>&1; `).join('')}${answer}`];
    const asRoot = (...commands: string[]) => asRootThen('echo y', ...commands);
    // An --as sign-in is asked about deletions before it (a no spends no code): its wait is at
    // the verification code of a TOTP factor it adds.
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXT';
    const resetPassword = join(store.dir, 'revo-reset-password');
    writeFileSync(resetPassword, 'revo password 9\n');
    for (const [revoke, said] of [
      [['user modify revo --no-admin'], 'made an ordinary user'],
      [['user modify revo --disabled'], 'disabled'],
      [['user delete revo --yes'], 'deleted'],
      // The password it signed in with reset by an admin (after a leak), or the account deleted
      // and made again under the id: the sign-in was another account's.
      [[`user passwd revo --password-stdin < ${resetPassword}`], 'given a new password or made anew'],
      [['user delete revo --yes', 'user add revo --admin --no-password'], 'given a new password or made anew'],
    ] as const) {
      await store.addUser('revo', 'revo password 1', ['--admin']);
      await store.addUser('vic', 'vic password 1');
      const r = runPty(store, ['--as', 'revo', 'tfa', 'add', 'totp', 'vic', '--secret', secret, '--qr', 'none', '--description', 'phone'], [
        { expect: 'Enter the password of revo@local', send: 'revo password 1\r' },
        // Root revokes revo while the prompt waits; then the code is typed.
        { expect: 'Verification code', send_command: asRootThen(`oathtool --totp -b ${secret}`, ...revoke) },
      ], { NO_COLOR: '1' });
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(4);
      expect(r.output).toContain(`error: revo@local was ${said} while this command ran: nothing was changed`);
      expect(store.factorsOf('vic')).toEqual([]);
      // Audited as any refusal.
      expect(store.auditRows().at(-1)).toMatchObject({ actor: 'revo@local', action: 'tfa.add', target: 'vic@local', outcome: 'refused' });
      for (const u of ['vic', 'revo']) if (store.hasUser(u)) expect((await store.run(['user', 'delete', u, '--yes'])).code).toBe(0);
    }
    // So does an API token deleted meanwhile, or made again under its name (rotated: the old one
    // is revoked), also root@local's own.
    await store.addUser('revo', 'revo password 1', ['--admin']);
    await store.addUser('vic', 'vic password 1');
    for (const [owner, revoke, said] of [
      ['revo', ['token delete revo ci'], 'deleted'],
      ['revo', ['token delete revo ci', 'token add revo ci'], 'replaced'],
      ['root', ['token delete root ci'], 'deleted'],
    ] as const) {
      const token = (await store.run(['token', 'add', owner, 'ci', '--json'])).json().result.value as string;
      const r = runPty(store, ['user', 'delete', 'vic'], [{ expect: 'Delete vic@local and every factor of theirs\\?', send_command: asRoot(...revoke) }], { NO_COLOR: '1', TFACTL_TOKEN: token });
      expect(r.status, r.output).toBe(4);
      expect(r.output).toContain(`error: API token ${owner}@local!ci was ${said} while this command ran: nothing was changed`);
      expect(store.hasUser('vic')).toBe(true);
      await store.run(['token', 'delete', owner, 'ci']);
    }
    // And a kept session ended meanwhile (user logout, for a lost laptop), or whose user's password changed.
    const runtime = join(store.dir, 'revo-runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const newPassword = join(store.dir, 'revo-new-password');
    writeFileSync(newPassword, 'revo password 2\n');
    // root@local too: nothing revokes its password, but a kept session of its own ends.
    for (const [who, revoke] of [
      ['revo@local', 'user logout revo'],
      ['revo@local', `user passwd revo --password-stdin < ${newPassword}`],
      ['root@local', 'user logout root@local'],
    ] as const) {
      expect((await store.run(['user', 'passwd', who, '--password-stdin'], { input: 'revo password 1\n' })).code).toBe(0);
      expect((await store.run(['login', who, '--password-stdin', '--session'], { input: 'revo password 1\n', env: { XDG_RUNTIME_DIR: runtime } })).code).toBe(0);
      const r = runPty(
        store,
        ['--as', who, 'tfa', 'add', 'totp', 'vic', '--secret', secret, '--qr', 'none', '--description', 'phone'],
        [{ expect: 'Verification code', send_command: asRootThen(`oathtool --totp -b ${secret}`, revoke) }],
        { NO_COLOR: '1', XDG_RUNTIME_DIR: runtime },
      );
      expect(r.status, r.output).toBe(4);
      expect(r.output).toContain(`error: the session of ${who} ended while this command ran: nothing was changed`);
      expect(store.factorsOf('vic')).toEqual([]);
    }
  }, 180_000);

  it('deletes no factors of a user deleted while the question waited, and says the user is gone (exit 3)', async () => {
    const envText = Object.entries(store.env).map(([k, v]) => `${k}='${v}'`).join(' ');
    await store.addUser('gone', 'gone password 1');
    expect((await store.run(['tfa', 'add', 'recovery', 'gone'])).code).toBe(0);
    const r = runPty(store, ['tfa', 'delete', 'gone', '--all'], [
      { expect: 'Delete', send_command: ['sh', '-c', `env ${envText} "${process.execPath}" "${BIN}" user delete gone --yes >/dev/null 2>&1; echo y`] },
    ], { NO_COLOR: '1' });
    expect(r.unmatched).toBeNull();
    expect(r.status, r.output).toBe(3);
    expect(r.output).toContain('error: user gone@local does not exist');
    expect(store.auditRows().filter((a) => a.action === 'tfa.delete' && a.target === 'gone@local')).toEqual([]);
  });

  it('with --password-stdin on a terminal, asks with the input hidden rather than read what is typed in view', () => {
    const r = runPty(store, ['--as', 'tina', '--password-stdin', 'user', 'show', 'tina'], [{ expect: 'Enter the password of tina@local', send: 'tina password 1\r' }]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    expect(r.output).not.toContain('tina password 1');
    expect(r.output).toMatch(/user:.*tina@local/);
  });

  it('asks again when Enter is pressed on an empty password prompt, counting no failure', () => {
    const r = runPty(store, ['--as', 'tina', 'user', 'show', 'tina'], [
      { expect: 'Enter the password of tina@local', send: '\r' },
      { expect: 'nothing was typed: type it, or press Ctrl-C to cancel', send: 'tina password 1\r' },
    ]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    expect(store.read<{ failures: unknown }>(['user', 'show', 'tina@local']).failures).toEqual(store.read<{ failures: unknown }>(['user', 'show', 'root@local']).failures);
    expect(store.auditRows().filter((a) => a.target === 'tina@local' && a.outcome === 'failed')).toEqual([]);
  });

  it('takes a terminal that says it is 0 columns wide as 80 (a pty whose size was never set), and COLUMNS before the terminal', async () => {
    await store.addUser('wide', 'wide password 1');
    const zero = runPty(store, ['tfa', 'add', 'totp', 'wide', '--no-verify', '--description', 'zero'], [], {}, 0);
    expect(zero.status, zero.output).toBe(0);
    expect(zero.output).toContain('Scan this QR code with your authenticator app');
    const narrowed = runPty(store, ['tfa', 'add', 'totp', 'wide', '--no-verify', '--description', 'narrowed'], [], { COLUMNS: '40' }, 0);
    expect(narrowed.status, narrowed.output).toBe(0);
    expect(narrowed.output).toMatch(/The terminal is too narrow for the QR code \(it needs \d+ columns\)/);
    const help = runPty(store, ['user', '--help'], [], {}, 0);
    expect(help.output).toContain('Usage: tfactl user');
    expect(Math.max(...help.output.split(/\r?\n/).map((l) => l.length))).toBeLessThanOrEqual(80);
  });

  it('asks nothing before a refusal the answer could not change: realm delete of a realm with users', async () => {
    expect((await store.run(['realm', 'add', 'peopled'])).code).toBe(0);
    await store.addUser('dweller@peopled', 'dweller password 1');
    const r = runPty(store, ['realm', 'delete', 'peopled'], []);
    expect(r.status).toBe(4);
    expect(r.output).not.toContain('Delete realm');
    expect(r.output).toContain('realm peopled still has 1 user: delete them first, or use --force to delete them with it');
  });

  it('cancels with exit 130 on Ctrl-C at a prompt and saves nothing', () => {
    const before = store.snapshot();
    const r = runPty(store, ['user', 'add', 'ursula'], [{ expect: 'Enter a new password', send: '\u0003' }]);
    expect(r.status).toBe(130);
    expect(r.output).toContain('cancelled');
    expect(store.snapshot()).toBe(before);
  });

  describe('on a terminal that moves no cursor (TERM=dumb: Emacs\'s shell)', () => {
    const dumb = { TERM: 'dumb' };

    it('asks one plain line at a time, echoes no password and draws nothing with escape sequences', async () => {
      const r = runPty(
        store,
        ['user', 'add', 'dora'],
        [
          { expect: 'Enter a new password for dora@local: $', send: '\r' },
          // An arrow key, and a letter rubbed out, are not part of what is typed.
          { expect: 'nothing was typed: type it, or press Ctrl-C to cancel', send: 'dora password 1\u001b[Dx\u007f\r' },
          { expect: 'Repeat the new password for dora@local: $', send: 'dora password 1\r' },
        ],
        dumb,
      );
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(0);
      expect(r.output).not.toContain('\u001b');
      expect(r.output).not.toContain('dora password');
      expect(r.output).toContain('added dora@local');
      expect((await store.login('dora', 'dora password 1')).code).toBe(0);
    });

    it('says a user\'s TOTP is locked before asking for the recovery key that is left', async () => {
      await store.addUser('tess', 'tess password 1', ['--tfa', 'totp', '--no-verify', '--qr', 'none']);
      const keys = (await store.run(['tfa', 'add', 'recovery', 'tess', '--json'])).json().result.keys as string[];
      for (let i = 0; i < 8; i++) expect((await store.login('tess', 'tess password 1', '000000')).code).toBe(5);
      const r = runPty(
        store,
        ['login', 'tess'],
        [
          { expect: 'Enter the password of tess@local', send: 'tess password 1\r' },
          { expect: "tess@local's TOTP is locked after too many failed codes \\(an admin can unlock it\\):\r?\nRecovery key \\(10 left\\) for tess@local: ", send: `${keys[0]}\r` },
        ],
        dumb,
      );
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain('9 recovery keys left');
    });

    it('asks again for a mistyped second factor, three times in all, each counted toward the lockout', async () => {
      const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
      await store.addUser('tara', 'tara password 1', ['--tfa', 'totp', '--totp-secret', secret, '--no-verify', '--qr', 'none']);
      const failures = () => (store.read(['user', 'show', 'tara']) as { lock: { totpFailures: number } }).lock.totpFailures;
      const wrong = 'invalid or already used TOTP code \\(each code works once: wait for the next one\\): try again';
      const r = runPty(
        store,
        ['login', 'tara', '--no-session'],
        [
          { expect: 'Enter the password of tara@local', send: 'tara password 1\r' },
          { expect: 'TOTP code for tara@local: ', send: '000000\r' },
          { expect: `${wrong} \\(2 tries left\\)\r?\nTOTP code for tara@local: `, send: '111111\r' },
          { expect: `${wrong} \\(1 try left\\)\r?\nTOTP code for tara@local: `, send_command: ['oathtool', '--totp', '-b', secret] },
        ],
        dumb,
      );
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain('signed in as tara@local');
      // The password was asked for once; the wrong codes are in the trail, and the success started the count afresh.
      expect(r.output.match(/Enter the password/g)).toHaveLength(1);
      expect(store.auditRows().filter((e) => e.action === 'login' && e.target === 'tara@local').map((e) => e.outcome)).toEqual(['failed', 'failed', 'ok']);
      expect(failures()).toBe(0);
      const three = runPty(
        store,
        ['login', 'tara', '--no-session'],
        [
          { expect: 'Enter the password of tara@local', send: 'tara password 1\r' },
          { expect: 'TOTP code for tara@local: ', send: '000000\r' },
          { expect: '2 tries left', send: '000001\r' },
          { expect: '1 try left', send: '000002\r' },
        ],
        dumb,
      );
      expect(three.unmatched).toBeNull();
      expect(three.status, three.output).toBe(5);
      expect(three.output).toMatch(/error: authentication failed: invalid or already used TOTP code \(each code works once: wait for the next one\)\r?\n$/);
      expect(failures()).toBe(3);
    });

    it('asks a yes-or-no question again until it is answered, and takes its default on Enter', async () => {
      await store.addUser('dirk', 'dirk password 1');
      const kept = runPty(store, ['user', 'delete', 'dirk'], [{ expect: 'Delete dirk@local and every factor of theirs\\? \\[y/N\\] $', send: '\r' }], dumb);
      expect(kept.status).toBe(130);
      expect(store.hasUser('dirk@local')).toBe(true);
      const r = runPty(
        store,
        ['user', 'delete', 'dirk'],
        [
          { expect: '\\[y/N\\] $', send: 'maybe\r' },
          { expect: 'answer y or n', send: 'y\r' },
        ],
        dumb,
      );
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(0);
      expect(r.output).not.toContain('\u001b');
      expect(store.hasUser('dirk@local')).toBe(false);
    });

    it('asks before audit prune removes entries: no keeps them, yes removes them', async () => {
      expect((await store.run(['realm', 'add', 'ancient'], { prefix: ['faketime', '-f', '-400d'] })).code).toBe(0);
      const old = () => store.read<{ target: string | null }[]>(['audit', '--all']).filter((e) => e.target === 'ancient');
      expect(old()).toHaveLength(1);
      const question = 'Remove 1 audit entry from before \\S+ \\S+\\? They cannot be brought back \\(a backup keeps them\\)\\. \\[y/N\\] $';
      const no = runPty(store, ['audit', 'prune', '--keep-days', '365'], [{ expect: question, send: 'n\r' }], dumb);
      expect({ unmatched: no.unmatched, status: no.status }).toEqual({ unmatched: null, status: 130 });
      expect(old()).toHaveLength(1);
      const yes = runPty(store, ['audit', 'prune', '--keep-days', '365'], [{ expect: question, send: 'y\r' }], dumb);
      expect({ unmatched: yes.unmatched, status: yes.status }).toEqual({ unmatched: null, status: 0 });
      expect(yes.output).toMatch(/removed 1 audit entry from before /);
      expect(old()).toEqual([]);
    });

    it('cancels with exit 130 on Ctrl-C, at a hidden and at a plain answer, saving nothing', async () => {
      await store.addUser('dean', 'dean password 1');
      const before = store.snapshot();
      const hidden = runPty(store, ['user', 'add', 'ulla'], [{ expect: 'Enter a new password', send: 'half\u0003' }], dumb);
      expect(hidden.status).toBe(130);
      expect(hidden.output).toContain('cancelled');
      const plain = runPty(store, ['user', 'delete', 'dean'], [{ expect: '\\[y/N\\] $', send: 'ye\u0003' }], dumb);
      expect(plain.status).toBe(130);
      expect(plain.output).toContain('cancelled');
      expect(store.snapshot()).toBe(before);
    });
  });

  it('cancels with exit 130 on SIGTERM at a prompt, the terminal put back and --json ending its envelope, saving nothing', () => {
    const before = store.snapshot();
    for (const env of [{ TERM: 'xterm' }, { TERM: 'dumb' }]) {
      const r = runPty(store, ['user', 'add', 'terry', '--json'], [{ expect: 'Enter a new password', kill: 15 }], env);
      expect(r.unmatched).toBeNull();
      expect(r.status, r.output).toBe(130);
      expect(r.output).toContain('{"ok":false,"error":{"code":"cancelled","message":"cancelled"},"warnings":[]}');
    }
    expect(store.snapshot()).toBe(before);
  });

  it('says at restore\'s question what the backup would bring back, and no changes nothing', async () => {
    expect((await store.run(['token', 'add', 'root@local', 'leaked'])).code).toBe(0);
    const file = join(store.dir, 'before-revoking.db');
    expect((await store.run(['backup', file])).code).toBe(0);
    expect((await store.run(['token', 'delete', 'root@local', 'leaked'])).code).toBe(0);
    // The warning, then the question.
    const warned = 'warning: the backup would bring back what was revoked since it was made: API tokens deleted, replaced, expired or made read-only \\(1: root@local!leaked\\); revoke again what should stay revoked\\r\\n';
    const asked = (send: string) => ({ expect: `${warned}.*Replace the whole store with ${file.replace(/[.]/g, '\\.')}\\?`, send });
    const before = store.snapshot();
    const no = runPty(store, ['restore', file], [asked('n\r')], { NO_COLOR: '1' });
    expect(no.unmatched).toBeNull();
    expect(no.status).toBe(130);
    expect(store.snapshot()).toBe(before);
    const yes = runPty(store, ['restore', file], [asked('y\r')], { NO_COLOR: '1' });
    expect(yes.unmatched).toBeNull();
    expect(yes.status).toBe(0);
    // Said once: not again after the restore.
    expect(yes.output.split('the backup would bring back')).toHaveLength(2);
    expect(yes.output).not.toContain('the backup brings back');
    expect((await store.run(['token', 'list', '--json'])).json().result.map((t: { tokenid: string }) => t.tokenid)).toEqual(['root@local!leaked']);
  });

  it('asks again after two different entries or a weak password, and gives up after three tries with exit 2', () => {
    const r = runPty(store, ['user', 'add', 'victor'], [
      { expect: 'Enter a new password', send: 'victor password 1\r' },
      { expect: 'Repeat', send: 'victor password 2\r' },
      { expect: 'do not match: try again[\\s\\S]*Enter a new password', send: 'short\r' },
      { expect: 'must be 8 to 256 characters long \\(it has 5\\): try again[\\s\\S]*Enter a new password', send: 'victor password 1\r' },
      { expect: 'Repeat', send: 'victor password 3\r' },
    ]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(2);
    expect(r.output).toMatch(/error:(\u001b\[[0-9;]*m)? the two entries do not match/);
    expect(store.hasUser('victor@local')).toBe(false);
  });

  it('asks again for a wrong verification code, keeping the secret that was scanned, and a code of the wrong shape uses no try', () => {
    expect(runPty(store, ['user', 'add', 'wendy', '--no-password'], []).status).toBe(0);
    const r = runPty(store, ['tfa', 'add', 'totp', 'wendy', '--description', 'phone', '--qr', 'none'], [
      { expect: 'Verification code', send: '000000\r' },
      { expect: 'does not match[^\\n]*; try again with the next code[\\s\\S]*Verification code', send: '111111\r' },
      // Two typing slips on the last try: said, and they use no try.
      { expect: 'try again with the next code[\\s\\S]*Verification code', send: 'abcdef\r' },
      { expect: 'a code of this factor is 6 digits: enter the one the app shows[\\s\\S]*Verification code', send: '12345\r' },
      { expect: '6 digits: enter the one the app shows[\\s\\S]*Verification code', send_totp: { secret: 'Secret: ([A-Z2-7]+)' } },
    ] as unknown as Step[]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    const secrets = [...r.output.matchAll(/Secret: ([A-Z2-7]+)/g)].map((m) => m[1]);
    expect(new Set(secrets).size).toBe(1);
    expect(store.factorsOf('wendy@local').map((f) => f.verified)).toEqual([true]);
  });

  it('keeps the user when the second try matches', () => {
    const r = runPty(store, ['user', 'add', 'vera'], [
      { expect: 'Enter a new password', send: 'vera password 1\r' },
      { expect: 'Repeat', send: 'vera password 2\r' },
      { expect: 'try again[\\s\\S]*Enter a new password', send: 'vera password 1\r' },
      { expect: 'Repeat', send: 'vera password 1\r' },
    ]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    expect(store.hasUser('vera@local')).toBe(true);
  });

  it('colours tables and errors on a TTY', () => {
    const list = runPty(store, ['user', 'list'], []);
    expect(list.output).toContain(`${ESC}1mUSER`);
    const error = runPty(store, ['user', 'show', 'nobody'], []);
    expect(error.status).toBe(3);
    expect(error.output).toContain(`${ESC}31merror:`);
  });

  it('fits listings to the terminal: free text cut or wrapped, columns left out, and says so; --wide and pipes print them whole', async () => {
    // A store of its own: what fits in 80 columns depends on every user id in it.
    const store = new TempStore();
    onTestFinished(() => store.remove());
    await store.run(['init']);
    await store.addUser('wanda', 'wanda password 1');
    const description = 'the phone in the drawer of the second desk by the window';
    expect((await store.run(['tfa', 'add', 'totp', 'wanda', '--no-verify', '--qr', 'none', '--description', description])).code).toBe(0);
    // A user id as long as some sites make them: cut in the middle when nothing else is left to give.
    const long = 'firstname.lastname@company-realm';
    expect((await store.run(['realm', 'add', 'company-realm'])).code).toBe(0);
    await store.addUser(long, 'long password 1');
    expect((await store.run(['tfa', 'add', 'totp', long, '--no-verify', '--qr', 'none'])).code).toBe(0);
    expect((await store.run(['token', 'add', long, 'deploy'])).code).toBe(0);
    // The table's lines; the note after it is prose, which the terminal wraps.
    const widest = (output: string) => Math.max(...output.split(/\r?\n/).filter((l) => !l.startsWith('fitted to')).map(textWidth));
    const listings = [['tfa', 'list'], ['user', 'list'], ['audit'], ['settings', 'list'], ['realm', 'list'], ['token', 'list']];
    for (const args of listings) {
      const narrow = runPty(store, args, [], { NO_COLOR: '1' }, 80);
      expect(narrow.status, narrow.output).toBe(0);
      expect(widest(narrow.output), `${args.join(' ')}\n${narrow.output}`).toBeLessThanOrEqual(80);
    }
    const cutName = runPty(store, ['tfa', 'list', long], [], { NO_COLOR: '1' }, 80);
    expect(cutName.output).toMatch(/^firstn\S*…\S*realm /m);
    expect(runPty(store, ['tfa', 'list', long, '--wide'], [], { NO_COLOR: '1' }, 80).output).toContain(long);
    const narrow = runPty(store, ['tfa', 'list', 'wanda'], [], { NO_COLOR: '1' }, 80);
    expect(narrow.output).toMatch(/the phone in [a-z ]*…/);
    // A factor stored unverified says so first: the column is cut at its end.
    expect(narrow.output).toMatch(/ not verif/);
    expect(narrow.output).toContain('fitted to 80 columns: CREATED, LAST USED left out, text cut short (--wide shows all)');
    const wide = runPty(store, ['tfa', 'list', 'wanda', '--wide'], [], { NO_COLOR: '1' }, 80);
    expect(wide.output).toContain(description);
    expect(wide.output).toContain('CREATED');
    expect(wide.output).not.toContain('fitted to');
    const piped = await store.run(['tfa', 'list', 'wanda'], { env: { COLUMNS: '80' } });
    expect(piped.stdout).toContain(description);
    expect(piped.stderr).toBe('');
    // What says how to sign in (with the command that fixes it) is wrapped, never cut.
    expect((await store.run(['realm', 'add', 'strict'])).code).toBe(0);
    await store.addUser('wendy@strict', 'wendy password 1');
    expect((await store.run(['realm', 'set-enforce', 'strict', 'totp'])).code).toBe(0);
    const unable = runPty(store, ['tfa', 'list', '--realm', 'strict'], [], { NO_COLOR: '1' }, 80);
    expect(widest(unable.output)).toBeLessThanOrEqual(80);
    expect(unable.output.split(/\r?\n/).filter((l) => l.startsWith(' ')).length).toBeGreaterThan(0);
    expect(unable.output.replace(/\s+/g, ' ')).toContain('fix: tfactl tfa add totp wendy@strict');
    // Laid out by the columns the terminal draws: a Chinese character takes two.
    await store.addUser('张伟', 'zhang password 1');
    expect((await store.run(['tfa', 'add', 'totp', '张伟', '--no-verify', '--qr', 'none', '--description', '抽屉里的手机在第二张桌子靠窗的那一边放着'])).code).toBe(0);
    const cjk = runPty(store, ['tfa', 'list', '--realm', 'local'], [], { NO_COLOR: '1' }, 80);
    expect(widest(cjk.output), cjk.output).toBeLessThanOrEqual(80);
    const lines = cjk.output.split(/\r?\n/);
    const column = (line: string | undefined, text: string) => textWidth(line!.slice(0, line!.indexOf(text)));
    const [header, wanda, zhang] = ['USER', 'wanda@local', '张伟@local'].map((start) => lines.find((l) => l.startsWith(start)));
    expect([column(zhang, 'totp'), column(zhang, 'yes')], cjk.output).toEqual([column(header, 'TYPE'), column(header, 'ENABLED')]);
    expect([column(wanda, 'totp'), column(wanda, 'yes')], cjk.output).toEqual([column(header, 'TYPE'), column(header, 'ENABLED')]);
    expect(zhang).toMatch(/ 抽屉里的手机\S*… {2}/);
  });

  it('never colours with NO_COLOR set', () => {
    const list = runPty(store, ['user', 'list'], [], { NO_COLOR: '1' });
    const error = runPty(store, ['user', 'show', 'nobody'], [], { NO_COLOR: '1' });
    expect(list.status).toBe(0);
    expect(list.output).not.toContain(ESC);
    expect(error.output).not.toContain(ESC);
  });

  it('never colours in a pipe', async () => {
    const r = await store.run(['user', 'list']);
    const e = await store.run(['user', 'show', 'nobody']);
    expect(r.stdout).not.toContain(ESC);
    expect(e.stderr).not.toContain(ESC);
  });
});
