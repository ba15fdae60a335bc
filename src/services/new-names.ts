import type { Store } from '../store/types.js';
import { shown } from '../domain/userid.js';
import { allowConfusableNames } from './settings.js';

/**
 * Why a user id about to be created could pass for another (it holds a character that shows as
 * nothing, mixes scripts, or holds a character that looks like an ASCII one: domain/lookalike.ts), unless the store setting
 * names.allow-confusable allows such names; null when it may be created. Only for new users:
 * existing ones are looked up by their canonical form alone. The check's tables are loaded only
 * for a name with a non-ASCII character.
 * Precondition: `userid` is canonical (parseUserId).
 */
export async function lookalikeReason(store: Store, userid: string): Promise<string | null> {
  const name = userid.slice(0, userid.lastIndexOf('@'));
  if (/^[\x00-\x7f]*$/.test(name)) return null;
  const { describeNameProblem, lookalikeProblem } = await import('../domain/lookalike.js');
  const problem = lookalikeProblem(name);
  if (problem === null || (await allowConfusableNames(store))) return null;
  return `the user name of ${shown(userid)} ${describeNameProblem(problem)}, so it could pass for another; the setting names.allow-confusable allows such names`;
}
