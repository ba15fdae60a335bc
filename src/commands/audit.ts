import { parsePositiveInt } from '../domain/account.js';
import { parseDate, startOfDate } from '../domain/dates.js';
import { parseUserId } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { readAudit } from '../services/audit.js';
import { openSession } from './session.js';
import { stringOpt } from './options.js';
import { auditTable } from './render.js';

export async function run(inv: Invocation): Promise<void> {
  const user = stringOpt(inv, 'user');
  const since = stringOpt(inv, 'since');
  const limit = stringOpt(inv, 'limit');
  const filter = {
    ...(user !== undefined && { user: parseUserId(user).id }),
    ...(since !== undefined && { since: startOfDate(parseDate(since, '--since date')) }),
    ...(limit !== undefined && { limit: parsePositiveInt(limit, '--limit') }),
  };
  const session = await openSession(inv, filter.user === undefined ? undefined : { op: 'audit.read-all', action: 'audit.read', target: filter.user });
  inv.out.result(await readAudit(session, filter), auditTable);
}
