import { parseUserId } from '../domain/userid.js';
import type { Store } from '../store/types.js';

export type CompletionKind = 'users' | 'factors' | 'realms' | 'settings';

/** One value a shell may offer, with what it is when the value alone does not say. */
export interface CompletionCandidate {
  readonly value: string;
  readonly description?: string;
}

// One candidate a line, its description after a tab: neither may hold a line end or a tab, and a
// value with a space could not be typed as one word.
const UNFIT_VALUE = /[\s\p{Cc}]/u;
const oneLine = (text: string): string => text.replace(/[\s\p{Cc}]+/gu, ' ').trim();

/**
 * The user ids (those that start with `arg`, what has been typed of one), realms, setting names, or factor ids of
 * one user (`arg`, a user id: a bare name means realm local) that completion offers, in order.
 * Precondition: the caller owns the store, and so may see everything, as root@local may. Reads
 * only; audits nothing (no secret is read). An unknown or invalid user id has no factors.
 */
export async function completionCandidates(store: Store, kind: CompletionKind, arg?: string): Promise<CompletionCandidate[]> {
  let candidates: CompletionCandidate[];
  if (kind === 'users') {
    candidates = (await store.userIdsStartingWith(arg ?? '')).map((value) => ({ value }));
  } else if (kind === 'settings') {
    const { SETTINGS } = await import('../domain/settings.js');
    candidates = Object.entries(SETTINGS).map(([value, spec]) => ({ value, description: oneLine(spec.description) }));
  } else if (kind === 'realms') {
    candidates = (await store.listRealms()).map((r) => ({ value: r.name, ...(r.comment ? { description: oneLine(r.comment) } : {}) }));
  } else {
    let id: string;
    try {
      id = parseUserId(arg ?? '').id;
    } catch {
      return [];
    }
    candidates = (await store.listFactors(id)).map((f) => ({
      value: f.id,
      description: oneLine(`${f.type}: ${f.description}${f.enabled ? '' : ' (disabled)'}`),
    }));
  }
  return candidates.filter((c) => c.value !== '' && !UNFIT_VALUE.test(c.value)).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}
