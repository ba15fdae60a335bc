import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

/** Names that look alike are one name: canonical ids, and no new names that pass for others. */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'names test password';

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('alice', PW);
});

describe('user ids and realm names in canonical form', () => {
  it.each([
    [['realm', 'add', 'LOCAL'], 'error: realm local already exists'],
    [['realm', 'add', 'ｌｏｃａｌ'], 'error: realm local already exists'],
    [['user', 'add', 'ROOT@LOCAL', '--no-password'], 'error: user root@local already exists'],
    [['user', 'add', 'ｒｏｏｔ', '--no-password'], 'error: user root@local already exists'],
    [['user', 'add', 'Alice@Local', '--no-password'], 'error: user alice@local already exists'],
  ])('%j is refused: %s (exit 4)', async (args, message) => {
    const before = store.snapshot();
    const r = await store.run(args);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe(message);
    expect(store.snapshot()).toBe(before);
  });

  it('signs in and looks up users however their id is spelt', async () => {
    const r = await store.login('ALICE', PW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.userid).toBe('alice@local');
    const shown = await store.run(['user', 'show', 'ＡＬＩＣＥ@LOCAL', '--json']);
    expect(shown.json().result.userid).toBe('alice@local');
    const asAlice = await store.runAs('Alice', PW, ['user', 'show', 'alice', '--json']);
    expect(asAlice.code, asAlice.stderr).toBe(0);
  });

  it('creates realms and users in canonical form', async () => {
    expect((await store.run(['realm', 'add', 'Corp.EU'])).code).toBe(0);
    const r = await store.run(['user', 'add', 'Bob@CORP.eu', '--no-password', '--json']);
    expect(r.json().result.user).toMatchObject({ userid: 'bob@corp.eu', realm: 'corp.eu' });
    const users = () => store.read<{ userid: string; realm: string }[]>(['user', 'list']).map(({ userid, realm }) => ({ userid, realm }));
    expect(users().filter((u) => u.userid.startsWith('bob'))).toEqual([{ userid: 'bob@corp.eu', realm: 'corp.eu' }]);
    const csv = join(store.dir, 'dupes.csv');
    writeFileSync(csv, 'userid\nCarol@corp.eu\nCAROL@Corp.EU\n');
    const imported = await store.run(['user', 'import', csv, '--json']);
    expect(imported.json().result.results.map((x: { status: string; error?: string }) => x.error ?? x.status)).toEqual([
      'created',
      'line 3: carol@corp.eu already appears on line 2',
    ]);
  });

  it('refuses a user id that is not valid Unicode', async () => {
    const csv = join(store.dir, 'bytes.csv');
    writeFileSync(csv, Buffer.concat([Buffer.from('userid\n'), Buffer.from('j\xf6rg\n', 'latin1')]));
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().result.results[0]).toMatchObject({ status: 'failed', error: 'line 2: the userid field is not valid UTF-8 (or holds a lone surrogate)' });
    const jsonl = join(store.dir, 'surrogate.jsonl');
    writeFileSync(jsonl, '{"userid":"al\\ud800ice"}\n');
    const lone = await store.run(['user', 'import', jsonl, '--json']);
    expect(lone.json().result.results[0].status).toBe('failed');
    const ids = store.read<{ userid: string }[]>(['user', 'list']).map((u) => u.userid);
    expect(ids.filter((u) => /^(al.*ice|j.*rg)/.test(u))).toEqual(['alice@local']);
  });
});

describe('new names that could pass for others', () => {
  it.each([
    ['rооt@local', 'mixes scripts (Cyrillic, Latin)'],
    ['аlice', 'mixes scripts (Cyrillic, Latin)'],
    ['ολγα', 'holds U+03BF (ο), which looks like an ASCII character'],
    ['root\u034f', 'holds U+034F, which shows as nothing'],
    // NFKC makes the Hangul filler U+3164 its conjoining form, U+1160.
    ['ali\u3164ce@local', 'holds U+1160, which shows as nothing'],
    ['admi\u0307n', 'holds U+0307 on "i", a mark that can show as nothing on it'],
  ])('user add %j is refused (exit 4): it %s', async (userid, reason) => {
    const before = store.snapshot();
    const r = await store.run(['user', 'add', userid, '--no-password']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toContain(`${reason}, so it could pass for another; the setting names.allow-confusable allows such names`);
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'user.add', outcome: 'refused' });
  });

  it('lets plain accented Latin and single-script names in', async () => {
    for (const userid of ['josé', 'Müller', '王伟', 'たなか太郎']) {
      const r = await store.run(['user', 'add', userid, '--no-password']);
      expect(r.code, `${userid}: ${r.stderr}`).toBe(0);
    }
  });

  it('refuses such rows in user import and such users in import proxmox', async () => {
    const csv = join(store.dir, 'lookalike.csv');
    writeFileSync(csv, 'userid\nрaul\nzoe\n');
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.json().result.results.map((x: { status: string; error?: string }) => x.error ?? x.status)).toEqual([
      expect.stringMatching(/^line 2: the user name of рaul@local mixes scripts \(Cyrillic, Latin\)/),
      'created',
    ]);
    const tfa = join(store.dir, 'tfa.cfg');
    const user = join(store.dir, 'user.cfg');
    writeFileSync(tfa, '');
    writeFileSync(user, 'user:fine@pve:1:0:::::\nuser:аdmin@pve:1:0:::::\n');
    const before = store.snapshot();
    const px = await store.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user]);
    expect(px.code).toBe(4);
    expect(oneLineError(px)).toMatch(/^error: user\.cfg line 2: the user name of аdmin@pve mixes scripts \(Cyrillic, Latin\).*nothing imported$/);
    expect(store.snapshot()).toBe(before);
  });

  it('allows them once the store setting names.allow-confusable says so; lookups never check', async () => {
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'true'])).code).toBe(0);
    expect((await store.run(['user', 'add', 'rооt', '--no-password'])).code).toBe(0);
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'false'])).code).toBe(0);
    const shown = await store.run(['user', 'show', 'RООT', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json().result.userid).toBe('rооt@local');
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'maybe'])).code).toBe(2);
  });
});
