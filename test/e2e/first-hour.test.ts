import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayStoreLocation } from '../../src/domain/store-location.js';
import { BIN, oneLineError, TempStore } from './harness.js';

/** What got in a newcomer's way in their first hour, through the binary. */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'first hour password';
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');

function onTerminal(args: string[], steps: { expect: string; send: string }[]) {
  const spec = { argv: [process.execPath, BIN, ...args], env: { ...store.env, NO_COLOR: '1' }, steps, timeout: 30 };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}

async function totp(userid: string): Promise<string> {
  const r = await store.run(['tfa', 'add', 'totp', userid, '--no-verify', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.id;
}

beforeAll(async () => {
  await store.run(['init']);
});

describe('a store made by the command that first adds to it', () => {
  it('is said to be new, with its key file to keep, as init says it (a mistyped --db makes one too)', async () => {
    const fresh = new TempStore();
    try {
      const r = await fresh.run(['realm', 'add', 'corp', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().warnings).toEqual([`there was no store at ${displayStoreLocation(fresh.db)}: created it, and its key file ${fresh.keyFile} (keep the key file with every backup of the store)`]);
      expect((await fresh.run(['realm', 'add', 'ops', '--json'])).json().warnings).toEqual([]);
    } finally {
      fresh.remove();
    }
  });

  it('is not made by a restore that could not open the backup with a new key file: nothing is left behind', async () => {
    const backup = `${store.dir}/first-hour.bak`;
    expect((await store.run(['backup', backup])).code).toBe(0);
    const fresh = new TempStore();
    try {
      const r = await fresh.run(['restore', backup, '--yes']);
      expect(r.code).toBe(4);
      expect(oneLineError(r)).toBe(
        `error: refusing to restore ${backup}: there is no key file at ${fresh.keyFile}, and a new one could not open the backup's secrets; put the key file kept with the backup there, or set TFACTL_KEY_FILE to it`,
      );
      expect(existsSync(fresh.db) || existsSync(fresh.keyFile)).toBe(false);
      // With the backup's key the same line restores (into a new store, said so).
      const kept = await fresh.run(['restore', backup, '--yes', '--json'], { env: { TFACTL_KEY_FILE: store.keyFile } });
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.json().warnings[0]).toBe(`there was no store at ${displayStoreLocation(fresh.db)}: created it, with the key file ${store.keyFile}`);
    } finally {
      fresh.remove();
    }
  });
});

describe('destructive commands', () => {
  it.each([
    ['user delete', (u: string) => ['user', 'delete', u]],
    ['realm delete', () => ['realm', 'delete', 'doomed']],
    ['tfa delete --all', (u: string) => ['tfa', 'delete', u, '--all']],
    ['tfa delete --type', (u: string) => ['tfa', 'delete', u, '--type', 'totp']],
  ])('%s needs --yes without a terminal, and changes nothing without it', async (_name, args) => {
    await store.run(['realm', 'add', 'doomed']);
    await store.addUser('dora', PW);
    await totp('dora');
    const before = store.snapshot();
    const r = await store.run(args('dora'));
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/: confirm with --yes$/);
    expect(store.snapshot()).toBe(before);
    const yes = await store.run([...args('dora'), '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
    await store.run(['user', 'delete', 'dora', '--yes']);
  });

  it.each([
    ['user delete', ['user', 'delete', 'nosuch']],
    ['realm delete', ['realm', 'delete', 'nosuch']],
    ['tfa delete --all', ['tfa', 'delete', 'nosuch', '--all']],
  ])('%s of what is not there is exit 3 with or without --yes, and asks nothing on a terminal', async (_name, args) => {
    for (const extra of [[], ['--yes']]) {
      const r = await store.run([...args, ...extra]);
      expect(r.code, [...args, ...extra].join(' ')).toBe(3);
      expect(oneLineError(r)).toMatch(/does not exist/);
    }
    const asked = onTerminal(args, []);
    expect(asked.status).toBe(3);
    expect(asked.output).not.toMatch(/Delete/);
  });

  it('with --as, says a missing --yes before signing in: the admin\'s TOTP code is not spent', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJS';
    await store.addUser('ada', PW, ['--admin', '--tfa', 'totp', '--totp-secret', secret, '--no-verify', '--qr', 'none']);
    await store.addUser('dex', PW);
    const code = spawnSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).stdout.trim();
    const before = store.snapshot();
    for (const args of [['user', 'delete', 'dex'], ['tfa', 'delete', 'dex', '--all'], ['realm', 'delete', 'doomed']]) {
      const r = await store.runAs('ada', PW, ['--auth-code', code, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLineError(r)).toMatch(/: confirm with --yes$/);
    }
    expect(store.snapshot()).toBe(before);
    // The same code then signs in for the command given --yes.
    const yes = await store.runAs('ada', PW, ['--auth-code', code, 'user', 'delete', 'dex', '--yes']);
    expect(yes.code, yes.stderr).toBe(0);
  });

  it('asks on a terminal: no keeps everything (exit 130), yes deletes', () => {
    expect(spawnSync(process.execPath, [BIN, 'user', 'add', 'tess', '--no-password'], { env: { ...process.env, ...store.env } }).status).toBe(0);
    const no = onTerminal(['user', 'delete', 'tess'], [{ expect: 'Delete tess@local and every factor of theirs\\?', send: 'n\r' }]);
    expect(no.unmatched).toBeNull();
    expect(no.status).toBe(130);
    expect(store.hasUser('tess@local')).toBe(true);
    const yes = onTerminal(['user', 'delete', 'tess'], [{ expect: 'Delete tess@local', send: 'y\r' }]);
    expect(yes.status).toBe(0);
    expect(store.hasUser('tess@local')).toBe(false);
  });
});

describe('tfa delete --type', () => {
  it('removes one kind of factor and leaves the others', async () => {
    await store.addUser('kit', PW);
    await totp('kit');
    await totp('kit');
    expect((await store.run(['tfa', 'add', 'recovery', 'kit'])).code).toBe(0);
    const r = await store.run(['tfa', 'delete', 'kit', '--type', 'totp', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.deleted).toHaveLength(2);
    // Recovery keys are left: no warning.
    expect(r.json().warnings).toEqual([]);
    const left = await store.run(['tfa', 'list', 'kit', '--json']);
    expect(left.json().result[0].factors.map((f: { type: string }) => f.type)).toEqual(['recovery']);
    const bad = await store.run(['tfa', 'delete', 'kit', '--type', 'sms', '--yes']);
    expect(bad.code).toBe(2);
  });
});

describe('factor ids', () => {
  it('are shown short in tables, in full with --json, and taken by any unique start', async () => {
    await store.addUser('pia', PW);
    const id = await totp('pia');
    const table = await store.run(['tfa', 'list', 'pia']);
    expect(table.stdout).toContain(` ${id.slice(0, 8)} `);
    expect(table.stdout).not.toContain(id);
    const r = await store.run(['tfa', 'disable', 'pia', id.slice(0, 6), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toMatchObject({ id, enabled: false });
    // Her only factor: the account is now a password's alone, which is said (the realm enforces nothing).
    expect(r.json().warnings).toEqual(['pia@local has no enabled second factor left: signing in now takes the password alone']);
    expect((await store.run(['tfa', 'enable', 'pia', id.slice(0, 6), '--json'])).json().warnings).toEqual([]);
  });

  it('refuse a start shorter than 4 characters, one that several factors share (exit 2, naming them) and one that none has (exit 3)', async () => {
    await store.addUser('amb', PW);
    const [first, second] = [await totp('amb'), await totp('amb')];
    // Two ids that share their first four characters (a 1 in 65536 chance otherwise).
    store.tamper(`UPDATE factors SET id = 'abcd' || substr(id, 5) WHERE id IN ('${first}', '${second}')`);
    const before = store.snapshot();
    const short = await store.run(['tfa', 'delete', 'amb', 'a']);
    expect(short.code).toBe(2);
    expect(oneLineError(short)).toBe('error: factor id a is too short: give at least 4 characters of it (see tfactl tfa list)');
    const ambiguous = await store.run(['tfa', 'disable', 'amb', 'abcd']);
    expect(ambiguous.code).toBe(2);
    expect(oneLineError(ambiguous)).toMatch(/is ambiguous for amb@local: it starts abcd.*, abcd.*; give more of it/);
    const none = await store.run(['tfa', 'delete', 'amb', 'zzzz']);
    expect(none.code).toBe(3);
    expect(store.snapshot()).toBe(before);
  });
});

describe('admins see who has what', () => {
  it('user list shows each user\'s factors and locks', async () => {
    await store.addUser('lou', PW);
    await totp('lou');
    for (let i = 0; i < 8; i++) await store.login('lou', PW, '000000');
    const r = await store.run(['user', 'list']);
    const row = r.stdout.split('\n').find((l) => l.startsWith('lou@local'));
    expect(row).toMatch(/ totp +TOTP /);
    const json = await store.run(['user', 'list', '--json']);
    expect(json.json().result.find((u: { userid: string }) => u.userid === 'lou@local')).toMatchObject({
      factors: { totp: 1, recoveryKeysLeft: null },
      lock: { totp: true, totpFailures: 8, secondFactorFailures: 8, secondFactorsUntil: null, passwordUntil: null },
    });
    expect((await store.run(['user', 'show', 'lou'])).stdout).toMatch(/^failures: +8 wrong second factors in a row, 8 wrong TOTP codes in a row$/m);
  });

  it('tfa list includes users without factors, takes --realm, and marks who cannot sign in and how to fix it', async () => {
    await store.run(['realm', 'add', 'ops']);
    await store.run(['realm', 'set-enforce', 'ops', 'totp']);
    await store.addUser('ned@ops', PW, ['--tfa', 'none']);
    await store.addUser('ola@ops', PW, ['--no-verify']);
    const r = await store.run(['tfa', 'list', '--realm', 'ops']);
    expect(r.code, r.stderr).toBe(0);
    const ned = r.stdout.split('\n').find((l) => l.startsWith('ned@ops'));
    expect(ned).toMatch(/no second factors .* NO: realm ops enforces totp and there is no enabled totp factor; fix: tfactl tfa add totp ned@ops$/);
    expect(r.stdout).toMatch(/^ola@ops .* ok$/m);
    expect(r.stdout).not.toContain('lou@local');
    const json = await store.run(['tfa', 'list', '--realm', 'ops', '--json']);
    expect(json.json().result.map((u: { userid: string; signIn: { possible: boolean } }) => [u.userid, u.signIn.possible])).toEqual([
      ['ned@ops', false],
      ['ola@ops', true],
    ]);
  });
});

describe('hints', () => {
  it('suggest recovery keys after a TOTP factor is enrolled, and only while there are none', async () => {
    await store.addUser('hal', PW);
    const first = await store.run(['tfa', 'add', 'totp', 'hal', '--no-verify']);
    expect(first.stderr).toContain("next: keep a way in for when the phone is lost: 'tfactl tfa add recovery hal@local'");
    await store.run(['tfa', 'add', 'recovery', 'hal']);
    const second = await store.run(['tfa', 'add', 'totp', 'hal', '--no-verify']);
    expect(second.stderr).not.toContain('tfa add recovery');
  });
});

describe('colour', () => {
  it('follows FORCE_COLOR even in a pipe, and NO_COLOR over it', async () => {
    const forced = await store.run(['realm', 'list'], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\u001b[1mREALM');
    const off = await store.run(['realm', 'list'], { env: { FORCE_COLOR: '0' } });
    expect(off.stdout).not.toContain('\u001b[');
    const both = await store.run(['realm', 'list'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(both.stdout).not.toContain('\u001b[');
  });
});
