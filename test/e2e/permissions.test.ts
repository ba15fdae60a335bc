import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

/**
 * The permission matrix through the binary: root (the store's owner, no --as), an admin and an
 * ordinary user, each acting on themselves, on another user and on root@local. Exactly the allowed
 * cells succeed; the others exit 4, are audited as refused and change nothing.
 */
const store = new TempStore();
afterAll(() => store.remove());

type ActorKind = 'root' | 'admin' | 'user';
type TargetKind = 'self' | 'other' | 'root';
const PASSWORD = 'matrix password 1';
let serial = 0;

beforeAll(async () => {
  await store.run(['init']);
  await store.run(['realm', 'add', 'corp']);
  for (const [id, admin] of [['admin1', true], ['user1', false], ['victim', false]] as const) {
    const r = await store.run(['user', 'add', id, '--password-stdin', ...(admin ? ['--admin'] : [])], { input: `${PASSWORD}\n` });
    expect(r.code).toBe(0);
  }
});

/** Makes a throwaway user (for deletions), returning its id. */
async function freshUser(admin: boolean): Promise<string> {
  const id = `fresh${++serial}@local`;
  const r = await store.run(['user', 'add', id, '--password-stdin', ...(admin ? ['--admin'] : [])], { input: `${PASSWORD}\n` });
  expect(r.code).toBe(0);
  return id;
}

async function act(actor: ActorKind, args: string[], actorId: string, extraInput: string[] = []) {
  if (actor === 'root') return store.run(args, extraInput.length ? { input: `${extraInput.join('\n')}\n` } : {});
  return store.runAs(actorId, PASSWORD, args, extraInput);
}

const actorIds: Record<ActorKind, string> = { root: 'root@local', admin: 'admin1@local', user: 'user1@local' };

function targetId(actor: ActorKind, target: TargetKind): string {
  if (target === 'root') return 'root@local';
  if (target === 'self') return actorIds[actor];
  return 'victim@local';
}

type Op = 'show' | 'modify-comment' | 'modify-admin' | 'passwd' | 'delete';
const ops: Record<Op, (t: string) => string[]> = {
  show: (t) => ['user', 'show', t],
  'modify-comment': (t) => ['user', 'modify', t, '--comment', `changed ${serial++}`],
  'modify-admin': (t) => ['user', 'modify', t, '--expire', '2099-01-01'],
  passwd: (t) => ['user', 'passwd', t, '--password-stdin'],
  delete: (t) => ['user', 'delete', t, '--yes'],
};

// [actor, op, target, allowed]
const matrix: [ActorKind, Op, TargetKind, boolean][] = [
  ['root', 'show', 'self', true],
  ['root', 'show', 'other', true],
  ['root', 'modify-comment', 'self', true],
  ['root', 'modify-comment', 'other', true],
  ['root', 'modify-admin', 'other', true],
  ['root', 'passwd', 'other', true],
  ['root', 'delete', 'other', true],
  ['admin', 'show', 'self', true],
  ['admin', 'show', 'other', true],
  ['admin', 'show', 'root', true],
  ['admin', 'modify-comment', 'self', true],
  ['admin', 'modify-comment', 'other', true],
  ['admin', 'modify-comment', 'root', false],
  ['admin', 'modify-admin', 'other', true],
  ['admin', 'modify-admin', 'root', false],
  ['admin', 'passwd', 'other', true],
  ['admin', 'passwd', 'root', false],
  ['admin', 'delete', 'other', true],
  ['admin', 'delete', 'self', true],
  ['admin', 'delete', 'root', false],
  ['user', 'show', 'self', true],
  ['user', 'show', 'other', false],
  ['user', 'show', 'root', false],
  ['user', 'modify-comment', 'self', true],
  ['user', 'modify-comment', 'other', false],
  ['user', 'modify-comment', 'root', false],
  ['user', 'modify-admin', 'self', false],
  ['user', 'modify-admin', 'other', false],
  ['user', 'passwd', 'self', true],
  ['user', 'passwd', 'other', false],
  ['user', 'passwd', 'root', false],
  ['user', 'delete', 'self', false],
  ['user', 'delete', 'other', false],
  ['user', 'delete', 'root', false],
];

describe('permission matrix for user commands', () => {
  it.each(matrix)('%s: %s on %s -> allowed %s', async (actor, op, target, allowed) => {
    let actorId = actorIds[actor];
    let tid = targetId(actor, target);
    if (op === 'delete' && target !== 'root') {
      // Deletions use throwaway accounts so the other cells keep their users.
      if (target === 'self' && actor !== 'root') actorId = tid = await freshUser(actor === 'admin');
      else if (target === 'other') tid = await freshUser(false);
    }
    // Passwords set by the matrix stay the same so later cells still authenticate.
    const extra = op === 'passwd' ? [PASSWORD] : [];
    const before = store.snapshot();
    const auditBefore = store.auditRows().length;
    const r = await act(actor, ops[op](tid), actorId, extra);
    if (allowed) {
      expect(r.code, r.stderr).toBe(0);
    } else {
      expect(r.code, r.stderr).toBe(4);
      oneLineError(r);
      expect(store.snapshot()).toBe(before);
      // Besides the acting user's sign-in, exactly one entry: the refusal.
      const added = store.auditRows().slice(auditBefore).filter((a) => a.action !== 'auth');
      expect(added).toEqual([expect.objectContaining({ actor: actorId, target: tid, outcome: 'refused' })]);
    }
  });
});

describe('permission matrix for store-wide commands', () => {
  const storeWide: [string, string[], boolean, boolean][] = [
    // [name, args, admin allowed, user allowed]
    ['user add', ['user', 'add', 'newbie', '--no-password'], true, false],
    ['realm add', ['realm', 'add', 'sales'], true, false],
    ['realm set-enforce', ['realm', 'set-enforce', 'corp', 'totp'], true, false],
    ['realm delete', ['realm', 'delete', 'corp', '--yes'], true, false],
    ['realm list', ['realm', 'list'], true, false],
  ];

  it.each(storeWide)('%s: the user is refused and the admin allowed', async (_name, args, adminOk, userOk) => {
    const before = store.snapshot();
    const asUser = await act('user', args, actorIds.user);
    expect(asUser.code).toBe(userOk ? 0 : 4);
    expect(store.snapshot()).toBe(before);
    const asAdmin = await act('admin', args, actorIds.admin);
    expect(asAdmin.code, asAdmin.stderr).toBe(adminOk ? 0 : 4);
  });

  it('shows an ordinary user only themselves in user list', async () => {
    const r = await store.runAs('user1', PASSWORD, ['user', 'list', '--json']);
    expect(r.json().result.map((u: { userid: string }) => u.userid)).toEqual(['user1@local']);
  });

  it('shows an ordinary user only their own audit entries and refuses others\'', async () => {
    const own = await store.runAs('user1', PASSWORD, ['audit', '--json']);
    expect(own.code).toBe(0);
    const entries = own.json().result as { actor: string; target: string }[];
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect([e.actor, e.target]).toContain('user1@local');
    const others = await store.runAs('user1', PASSWORD, ['audit', '--user', 'victim', '--json']);
    expect(others.code).toBe(4);
  });

  it('narrows the trail by action (one, or a group) and outcome, with a user\'s own view still their own', async () => {
    expect((await store.run(['user', 'add', 'fay', '--password-stdin'], { input: `${PASSWORD}\n` })).code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await store.login('fay', 'not her password')).code).toBe(5);
    expect((await store.login('fay', PASSWORD)).code).toBe(0);
    const entries = async (args: string[], as?: string) =>
      (as ? await store.runAs(as, PASSWORD, ['audit', '--all', ...args, '--json']) : await store.run(['audit', '--all', ...args, '--json'])).json().result as {
        action: string;
        target: string;
        outcome: string;
      }[];
    const failed = (await entries(['--action', 'login', '--outcome', 'failed'])).filter((e) => e.target === 'fay@local');
    expect(failed.map((e) => [e.action, e.outcome])).toEqual([['login', 'failed'], ['login', 'failed']]);
    const ok = (await entries(['--action', 'login', '--outcome', 'ok'])).filter((e) => e.target === 'fay@local');
    expect(ok.length).toBe(1);
    // sign-in: every sign-in however made, a failed --as too, and nothing else.
    expect((await store.runAs('fay', 'not her password', ['user', 'show', 'fay'])).code).toBe(5);
    const signIns = (await entries(['--action', 'sign-in', '--outcome', 'failed'])).filter((e) => e.target === 'fay@local');
    expect(signIns.map((e) => e.action)).toEqual(['login', 'login', 'auth']);
    expect((await entries(['--action', 'sign-in'])).every((e) => /^(login|auth|pam)(\.|$)/.test(e.action))).toBe(true);
    // A group: every user.* action, and nothing else (not user1's own 'auth' entries, nor login).
    const group = await entries(['--action', 'user']);
    expect(group.length).toBeGreaterThan(0);
    expect(group.every((e) => e.action.startsWith('user.'))).toBe(true);
    expect((await entries(['--action', 'use'])).length).toBe(0);
    // An action no entry has (misspelt, say) is said to be one, on stderr and in the envelope;
    // one that other filters left nothing of is not.
    const misspelt = await store.run(['audit', '--action', 'logn', '--json']);
    expect([misspelt.code, misspelt.json().result, misspelt.json().warnings]).toEqual([0, [], ['no entry of the audit trail has the action "logn": did you mean login?']]);
    const told = await store.run(['audit', '--action', 'logn']);
    expect([told.stdout, told.stderr]).toEqual(['no audit entries\n', 'warning: no entry of the audit trail has the action "logn": did you mean login?\n']);
    const nothingThen = await store.run(['audit', '--action', 'login', '--since', '2999-01-01', '--json']);
    expect([nothingThen.json().result, nothingThen.json().warnings]).toEqual([[], []]);
    // A user is told only of the actions of their own entries.
    const own = await store.runAs('user1', PASSWORD, ['audit', '--action', 'logn', '--json']);
    expect(own.json().warnings).toEqual([expect.stringMatching(/^no entry of the audit trail has the action "logn"; it has ([a-z.-]+, )*auth(, [a-z.-]+)*$/)]);
    expect(own.json().warnings[0]).not.toMatch(/login/);
    // --limit counts what matches: the newest one failed login.
    const newest = (await store.run(['audit', '--action', 'login', '--outcome', 'failed', '--limit', '1', '--json'])).json().result;
    expect(newest).toHaveLength(1);
    expect(newest[0]).toMatchObject({ action: 'login', outcome: 'failed', target: 'fay@local' });
    // An ordinary user filters only their own entries.
    for (const e of await entries(['--action', 'auth'], 'user1')) expect(e.action).toBe('auth');
    expect((await entries(['--action', 'login', '--outcome', 'failed'], 'user1')).filter((e) => e.target === 'fay@local')).toEqual([]);
    // Bad filters: one line, exit 2.
    for (const [args, code] of [[['--action', 'login%'], 'invalid_action'], [['--action', 'Login'], 'invalid_action'], [['--outcome', 'bad'], 'usage']] as const) {
      const r = await store.run(['audit', ...args, '--json']);
      expect([r.code, r.json().error.code], args.join(' ')).toEqual([2, code]);
      expect(oneLineError(await store.run(['audit', ...args]))).toMatch(/^error: /);
    }
  });

  it("shows a user given a deleted user's name none of the entries of that one", async () => {
    expect((await store.run(['user', 'add', 'heir', '--password-stdin'], { input: `${PASSWORD}\n` })).code).toBe(0);
    expect((await store.runAs('heir', PASSWORD, ['token', 'add', 'heir', 'old-deploy'])).code).toBe(0);
    expect((await store.run(['user', 'delete', 'heir', '--yes'])).code).toBe(0);
    // The first account's history, a while ago.
    store.tamper("UPDATE audit SET ts = ts - 600 WHERE actor = 'heir@local' OR target = 'heir@local'");
    expect((await store.run(['user', 'add', 'heir', '--password-stdin'], { input: `${PASSWORD}\n` })).code).toBe(0);
    const own = await store.runAs('heir', PASSWORD, ['audit', '--json']);
    expect(own.code, own.stderr).toBe(0);
    expect(own.json().result.map((e: { action: string }) => e.action)).toEqual(['user.add', 'auth']);
    const admin = await store.runAs('admin1', PASSWORD, ['audit', '--user', 'heir', '--json']);
    expect(admin.json().result.map((e: { action: string }) => e.action)).toContain('token.add');
  });

  it('tells only admins that a realm does not exist: for others, who may not list realms, it lists no one', async () => {
    for (const command of [['user', 'list'], ['tfa', 'list']]) {
      for (const realm of ['corp', 'nope']) {
        const r = await store.runAs('user1', PASSWORD, [...command, '--realm', realm, '--json']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.json().result).toEqual([]);
      }
      expect((await store.runAs('user1', PASSWORD, [...command, '--realm', 'local', '--json'])).json().result).toHaveLength(1);
      const admin = await store.runAs('admin1', PASSWORD, [...command, '--realm', 'nope']);
      expect(admin.code).toBe(3);
      expect(oneLineError(admin)).toBe("error: realm nope does not exist: 'tfactl realm list' shows those there are");
    }
  });

  it('refuses a password alone that is wrong, the same way for unknown users (exit 5)', async () => {
    const wrong = await store.runAs('user1', 'not the password', ['user', 'show', 'user1']);
    const unknown = await store.runAs('ghost', 'not the password', ['user', 'show', 'ghost']);
    expect(wrong.code).toBe(5);
    expect(unknown.code).toBe(5);
    expect(oneLineError(wrong)).toBe(oneLineError(unknown));
    const failures = store.auditRows().filter((a) => a.action === 'auth' && a.outcome === 'failed');
    expect(failures.map((a) => a.target)).toEqual(expect.arrayContaining(['user1@local', 'ghost@local']));
  });
});
