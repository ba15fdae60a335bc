import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

/**
 * Whatever decides how root@local signs in is root@local's alone: the built-in realm `local` (what it
 * enforces, how it validates YubiKeys), every store-wide setting, the whole store. An admin trying
 * any of it is refused (exit 4), audited, and nothing changes.
 */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'root protection password';

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('adm', PW, ['--admin']);
  await store.run(['realm', 'add', 'corp']);
});

const asAdmin = (args: string[]) => store.runAs('adm@local', PW, args);

describe('an admin', () => {
  it.each([
    ['point local\'s YubiKey checks at another service', ['realm', 'set-yubico', 'local', '--api-id', '1', '--api-key', Buffer.alloc(20, 7).toString('base64'), '--url', 'http://127.0.0.1:9/verify']],
    ['switch local to offline YubiKey validation', ['realm', 'set-yubico', 'local', '--offline']],
    ['remove local\'s YubiKey validation', ['realm', 'set-yubico', 'local', '--none']],
    ['stop local enforcing anything', ['realm', 'set-enforce', 'local', 'none']],
    ['make local enforce TOTP', ['realm', 'set-enforce', 'local', 'totp']],
    ['raise the lockout limit', ['settings', 'set', 'lockout.failures', '100000']],
    ['raise the TOTP lockout limit', ['settings', 'set', 'lockout.totp-failures', '1000']],
    ['shorten the lock', ['settings', 'set', 'lockout.seconds', '1']],
    ['lift the password regulation', ['settings', 'set', 'lockout.password-failures', '1000']],
    ['weaken the password policy', ['settings', 'set', 'password.min-length', '1']],
    ['change the TOTP issuer', ['settings', 'set', 'totp.issuer', 'evil']],
    ['delete the built-in realm', ['realm', 'delete', 'local', '--force', '--yes']],
  ])('may not %s (exit 4, audited, nothing changed)', async (_what, args) => {
    const before = store.snapshot();
    const r = await asAdmin(args);
    expect(r.code, r.stderr).toBe(4);
    expect(oneLineError(r)).toMatch(/only root@local may/);
    expect(store.snapshot()).toBe(before);
    const last = store.auditRows().at(-1);
    expect(last).toMatchObject({ actor: 'adm@local', outcome: 'refused' });
  });

  it('still manages other realms and reads the settings', async () => {
    expect((await asAdmin(['realm', 'set-enforce', 'corp', 'totp'])).code).toBe(0);
    expect((await asAdmin(['realm', 'set-yubico', 'corp', '--offline'])).code).toBe(0);
    const list = await asAdmin(['settings', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.json().result.map((s: { key: string }) => s.key)).toContain('lockout.password-failures');
  });

  it('may not import the cluster\'s WebAuthn settings from Proxmox (they would be store-wide)', async () => {
    const tfa = join(store.dir, 'tfa.cfg');
    const users = join(store.dir, 'user.cfg');
    writeFileSync(tfa, JSON.stringify({ webauthn: { rp: 'pve', origin: 'https://pve:8006', id: 'pve' }, users: {} }));
    writeFileSync(users, 'user:pat@pve:1:0::::::\n');
    const before = store.snapshot();
    const r = await asAdmin(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', users]);
    expect(r.code, r.stderr).toBe(4);
    expect(oneLineError(r)).toContain('only root@local may import them');
    expect(store.snapshot()).toBe(before);
    const root = await store.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', users, '--json']);
    expect(root.code, root.stderr).toBe(0);
  });

  it('is told before any second factor is asked for', async () => {
    // The refusal comes after the password: the admin has TOTP, and no --auth-code is needed to hear it.
    const r = await store.run(['tfa', 'add', 'recovery', 'adm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const refused = await asAdmin(['settings', 'set', 'lockout.seconds', '5']);
    expect(refused.code).toBe(4);
    expect(oneLineError(refused)).not.toContain('second factor');
  });
});

describe('root@local', () => {
  it('changes its own realm and every setting', async () => {
    for (const args of [
      ['settings', 'set', 'lockout.seconds', '7200'],
      ['settings', 'set', 'password.min-length', '10'],
      ['realm', 'set-yubico', 'local', '--offline'],
      ['realm', 'set-yubico', 'local', '--none'],
    ]) {
      const r = await store.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
});
