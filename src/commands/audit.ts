import { parsePositiveInt } from '../domain/account.js';
import { parseDate, startOfDate } from '../domain/dates.js';
import { parseUserId } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { readAudit } from '../services/audit.js';
import { openSession } from './session.js';
import { boolOpt, stringOpt } from './options.js';
import { UsageError } from '../errors.js';
import { auditList } from './render.js';

/** What `audit` shows without --limit or --all: a trail of millions is not for a terminal. */
const DEFAULT_LIMIT = 100;

export async function run(inv: Invocation): Promise<void> {
  const user = stringOpt(inv, 'user');
  const since = stringOpt(inv, 'since');
  const limit = stringOpt(inv, 'limit');
  const all = boolOpt(inv, 'all') === true;
  if (all && limit !== undefined) throw new UsageError('give --limit or --all, not both', 'conflicting_options');
  const filter = {
    ...(user !== undefined && { user: parseUserId(user).id }),
    ...(since !== undefined && { since: startOfDate(parseDate(since, '--since date')) }),
    ...(!all && { limit: limit === undefined ? DEFAULT_LIMIT : parsePositiveInt(limit, '--limit') }),
  };
  const session = await openSession(inv, filter.user === undefined ? undefined : { op: 'audit.read-all', action: 'audit.read', target: filter.user });
  await inv.out.list(await readAudit(session, filter), auditList);
}
