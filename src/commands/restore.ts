import { resolve } from 'node:path';
import { nothingRevived, type RevivedAccess } from '../domain/restore-revival.js';
import type { Invocation } from '../invocation.js';
import { restoreStore } from '../services/backup.js';
import { openSession } from './session.js';
import { confirm, requireConfirmation } from './confirm.js';
import { arg } from './options.js';
import { SHORT_ID } from './tfa/render.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(arg(inv, 0));
  requireConfirmation(inv, 'restore replaces every user, realm and factor in the store');
  const session = await openSession(inv, { op: 'store.whole', action: 'store.restore' });
  await confirm(inv, `Replace the whole store with ${file}?`);
  const result = await restoreStore(session, file);
  if (!nothingRevived(result.revived)) inv.out.warn(revivedWarning(result.revived));
  inv.out.result(result, (r, style) => `${style.green('restored')} the store from ${r.file} (${r.users} users)`);
}

/** Names shown in the warning, per kind; --json lists them all. */
const SHOWN = 5;

/** One line saying what the restored backup grants that was revoked since it was made. */
export function revivedWarning(r: RevivedAccess): string {
  const some = (what: string, names: readonly string[]) => {
    if (names.length === 0) return [];
    const shown = names.slice(0, SHOWN).join(', ');
    return [`${what} (${names.length}: ${shown}${names.length > SHOWN ? ` and ${names.length - SHOWN} more` : ''})`];
  };
  const parts = [
    ...some('users deleted', r.users),
    ...some('users disabled or expired', r.enabled),
    ...some('admin rights taken away', r.admins),
    ...some('passwords changed', r.passwords),
    ...some('second factors deleted or disabled', r.factors.map((f) => `${f.userid} ${f.type} ${f.id.slice(0, SHORT_ID)}`)),
    ...some('API tokens deleted, replaced, expired or made read-only', r.tokens),
  ];
  return `the backup brings back what was revoked since it was made: ${parts.join('; ')}; revoke again what should stay revoked`;
}
