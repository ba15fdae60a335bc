import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

const store = new TempStore();
beforeAll(async () => {
  expect((await store.run(['init'])).code).toBe(0);
});
afterAll(() => store.remove());

describe('tfactl realm', () => {
  it('has the built-in realm local', async () => {
    const r = await store.run(['realm', 'list', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result).toEqual([expect.objectContaining({ name: 'local', builtin: true, enforce: 'none', users: 1 })]);
  });

  it('adds, shows and lists a realm', async () => {
    const add = await store.run(['realm', 'add', 'corp', '--comment', 'Corporate', '--json']);
    expect(add.code).toBe(0);
    expect(add.json().result).toMatchObject({ name: 'corp', comment: 'Corporate', builtin: false, enforce: 'none', users: 0 });
    const show = await store.run(['realm', 'show', 'corp']);
    expect(show.stdout).toMatch(/^realm: +corp$/m);
    const list = await store.run(['realm', 'list']);
    expect(list.stdout).toMatch(/^corp +none +0 +Corporate$/m);
  });

  it('refuses a realm that would pass for another: root@local. is not root@local', async () => {
    const before = store.snapshot();
    for (const [name, like] of [['local.', 'local'], ['lo-cal', 'local'], ['l_o.c-al', 'local']] as const) {
      const r = await store.run(['realm', 'add', name, '--json']);
      expect({ code: r.code, error: r.json().error }).toEqual({
        code: 4,
        error: { code: 'confusable_name', message: `realm ${name} would pass for realm ${like}: they differ only in '.', '-' or '_'` },
      });
    }
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'realm.add', target: 'l_o.c-al', outcome: 'refused' });
  });

  it('refuses a realm that exists (exit 4)', async () => {
    const r = await store.run(['realm', 'add', 'corp']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe('error: realm corp already exists');
  });

  it('enforces TOTP with the realm\'s digits, step and algorithm; run again, changes only what it is given', async () => {
    const r = await store.run(['realm', 'set-enforce', 'corp', 'totp', '--digits', '8', '--step', '60', '--algorithm', 'sha256', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result).toMatchObject({ enforce: 'totp', totp: { digits: 8, period: 60, algorithm: 'SHA256' } });
    const byPeriod = await store.run(['realm', 'set-enforce', 'corp', 'totp', '--period', '45', '--json']);
    expect(byPeriod.json().result.totp).toEqual({ digits: 8, period: 45, algorithm: 'SHA256' });
    const both = await store.run(['realm', 'set-enforce', 'corp', 'totp', '--step', '45', '--period', '045', '--json']);
    expect(both.code, both.stderr).toBe(0);
    // A provisioning step run again: nothing changes.
    const again = await store.run(['realm', 'set-enforce', 'corp', 'totp', '--json']);
    expect(again.json().result.totp).toEqual({ digits: 8, period: 45, algorithm: 'SHA256' });
    const none = await store.run(['realm', 'set-enforce', 'corp', 'none', '--json']);
    expect(none.json().result).toMatchObject({ enforce: 'none', totp: null });
    const defaults = await store.run(['realm', 'set-enforce', 'corp', 'totp', '--json']);
    expect(defaults.json().result.totp).toEqual({ digits: 6, period: 30, algorithm: 'SHA1' });
    expect((await store.run(['realm', 'set-enforce', 'corp', 'none'])).code).toBe(0);
    expect(store.auditRows().filter((a) => a.action === 'realm.set-enforce')).toHaveLength(7);
  });

  it.each([
    [['realm', 'set-enforce', 'corp', 'totp', '--digits', '9'], 2],
    [['realm', 'set-enforce', 'corp', 'totp', '--step', '5'], 2],
    [['realm', 'set-enforce', 'corp', 'totp', '--step', '30', '--period', '60'], 2],
    [['realm', 'set-enforce', 'corp', 'none', '--period', '60'], 2],
    [['realm', 'set-enforce', 'corp', 'totp', '--algorithm', 'MD5'], 2],
    [['realm', 'set-enforce', 'corp', 'none', '--digits', '8'], 2],
    [['realm', 'set-enforce', 'corp', 'sms'], 2],
    [['realm', 'set-enforce', 'nowhere', 'totp'], 3],
    [['realm', 'add', '1corp'], 2],
    [['realm', 'add', 'c'], 2],
    [['realm', 'show', 'nowhere'], 3],
  ])('rejects %j with exit %i and changes nothing', async (args, code) => {
    const before = store.snapshot();
    const r = await store.run(args);
    expect(r.code).toBe(code);
    oneLineError(r);
    expect(store.snapshot()).toBe(before);
  });

  it('refuses to delete a realm with users unless --force, which says what it removed', async () => {
    await store.run(['user', 'add', 'bob@corp', '--no-password']);
    await store.run(['user', 'add', 'amy@corp', '--no-password']);
    const before = store.snapshot();
    const refused = await store.run(['realm', 'delete', 'corp', '--yes']);
    expect(refused.code).toBe(4);
    expect(oneLineError(refused)).toContain('still has 2 users');
    expect(store.snapshot()).toBe(before);
    const forced = await store.run(['realm', 'delete', 'corp', '--force', '--json', '--yes']);
    expect(forced.code).toBe(0);
    expect(forced.json().result).toEqual({ realm: 'corp', deleted: true, deletedUsers: 2 });
    expect(store.read<{ realm: string }[]>(['user', 'list']).filter((u) => u.realm === 'corp')).toEqual([]);
  });

  it('never deletes the built-in realm', async () => {
    const r = await store.run(['realm', 'delete', 'local', '--force', '--yes']);
    expect(r.code).toBe(4);
    expect(store.read<{ name: string }[]>(['realm', 'list']).map((r) => r.name)).toContain('local');
    expect(store.hasUser('root@local')).toBe(true);
  });

  it('says what to do of a realm that is not there, and of a realm and type given the wrong way round', async () => {
    const missing = await store.run(['realm', 'delete', 'nosuch', '--yes']);
    expect(missing.code).toBe(3);
    expect(oneLineError(missing)).toBe("error: realm nosuch does not exist: 'tfactl realm list' shows those there are");
    const intoMissing = await store.run(['user', 'add', 'ann@nosuch', '--no-password']);
    expect(oneLineError(intoMissing)).toBe("error: realm nosuch does not exist: add it with 'tfactl realm add nosuch'");
    // A typo is told the realm it missed; one that would pass for a realm is not told to add it (that is refused).
    expect((await store.run(['realm', 'add', 'acme'])).code).toBe(0);
    expect(oneLineError(await store.run(['user', 'add', 'ann@amce', '--no-password']))).toBe("error: realm amce does not exist (did you mean acme?): add it with 'tfactl realm add amce'");
    expect(oneLineError(await store.run(['user', 'add', 'ann@acme_', '--no-password']))).toBe('error: realm acme_ does not exist (did you mean acme?)');
    expect(oneLineError(await store.run(['user', 'list', '--realm', 'acm']))).toBe("error: realm acm does not exist (did you mean acme?): 'tfactl realm list' shows those there are");
    expect((await store.run(['realm', 'delete', 'acme', '--yes'])).code).toBe(0);
    const swapped = await store.run(['realm', 'set-enforce', 'totp', 'corp']);
    expect(swapped.code).toBe(2);
    expect(oneLineError(swapped)).toBe(
      'error: invalid type "corp": expected none, totp or yubico (the realm comes first: tfactl realm set-enforce REALM TYPE)',
    );
  });

  it('deletes an empty realm', async () => {
    await store.run(['realm', 'add', 'tmp']);
    const r = await store.run(['realm', 'delete', 'tmp', '--json', '--yes']);
    expect(r.json().result).toEqual({ realm: 'tmp', deleted: true, deletedUsers: 0 });
  });
});
