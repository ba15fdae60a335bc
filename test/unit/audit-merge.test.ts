import { describe, expect, it } from 'vitest';
import { auditEntriesToAppend, restoredAuditId, type AuditContent } from '../../src/store/audit-merge.js';

const entry = (ts: number, action: string, detail: string | null = null): AuditContent & { id: number } => ({ id: ts * 10, ts, actor: 'root@local', action, target: null, outcome: 'ok', detail });

describe('auditEntriesToAppend', () => {
  const appended = (backup: (AuditContent & { id: number })[], store: AuditContent[]) => [...auditEntriesToAppend(backup, (ts) => store.filter((e) => Number(e.ts) === ts))].map((e) => [e.ts, e.action]);

  it('appends what the store lacks, by what an entry says and not its id', () => {
    const backup = [entry(1, 'a'), entry(2, 'b'), entry(3, 'c')];
    expect(appended(backup, [])).toEqual([[1, 'a'], [2, 'b'], [3, 'c']]);
    // The store's own copies have other ids (and PostgreSQL gives times as text).
    expect(appended(backup, [{ ...entry(1, 'a'), id: 99 } as AuditContent, { ...entry(3, 'c'), ts: '3' }])).toEqual([[2, 'b']]);
  });

  it('keeps like entries of one second as many as the backup has more of them', () => {
    const backup = [entry(5, 'login'), entry(5, 'login'), entry(5, 'login', '{"x":1}')];
    expect(appended(backup, [entry(5, 'login')])).toEqual([[5, 'login'], [5, 'login']]);
    expect(appended(backup, [entry(5, 'login'), entry(5, 'login'), entry(5, 'login', '{"x":1}')])).toEqual([]);
  });

  it('asks for the store\'s entries a second at a time', () => {
    const asked: number[] = [];
    expect([...auditEntriesToAppend([entry(1, 'a'), entry(1, 'b'), entry(2, 'c')], (ts) => (asked.push(ts), []))]).toHaveLength(3);
    expect(asked).toEqual([1, 2]);
  });
});

describe('restoredAuditId', () => {
  it('gives an entry back the id it had when that is below the store\'s oldest (where a prune took from)', () => {
    expect(restoredAuditId(3, 5)).toBe(3);
    // PostgreSQL and a backup read back may give it as text.
    expect(restoredAuditId('4', 5)).toBe(4);
  });

  it('appends it (null) at or after the oldest, gaps included, in an empty trail, or when not an id', () => {
    for (const id of [5, 6, 12]) expect(restoredAuditId(id, 5)).toBeNull();
    expect(restoredAuditId(3, null)).toBeNull();
    for (const id of [0, -1, 2.5, 'x', null, undefined, 2 ** 60]) expect(restoredAuditId(id, 2 ** 62)).toBeNull();
  });
});
