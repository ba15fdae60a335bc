import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { INPUT_LIMITS, openCheckedFile } from '../files.js';
import { nothingRevived, type RevivedAccess } from '../domain/restore-revival.js';
import { quote } from '../domain/userid.js';
import type { Invocation } from '../invocation.js';
import { restoreStore } from '../services/backup.js';
import { openSession } from './session.js';
import { confirm, requireConfirmation } from './confirm.js';
import { arg, boolOpt, namedFile } from './options.js';
import { SHORT_ID } from './tfa/render.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(namedFile(arg(inv, 0), 'restore'));
  const dryRun = boolOpt(inv, 'dryRun') === true;
  // A backup that is missing, not a regular file or too large is said first (exit 2, as for every
  // file tfactl reads), not after asking for --yes; restoreStore reads it, checked again.
  closeSync(openCheckedFile(file, { name: 'the backup', maxBytes: INPUT_LIMITS.backup }).fd);
  if (!dryRun) requireConfirmation(inv, 'restore replaces every user, realm and factor in the store');
  const session = await openSession(inv, { op: 'store.whole', action: 'store.restore' }, { readOnly: dryRun, existing: dryRun });
  // Said before the question on a terminal, and after the restore unless that said it already.
  let said: string | undefined;
  const result = await restoreStore(session, file, {
    dryRun,
    // With --yes nobody is asked, and nothing needs saying before.
    ...(boolOpt(inv, 'yes') !== true && {
      beforeReplacing: async (preview: RevivedAccess) => {
        if (!nothingRevived(preview)) inv.out.warn((said = revivedText(preview, 'would bring')));
        await confirm(inv, `Replace the whole store with ${file}?`);
      },
    }),
  });
  const found = nothingRevived(result.revived) ? undefined : revivedText(result.revived, 'would bring');
  if (found !== undefined && found !== said) inv.out.warn(result.dryRun ? found : revivedText(result.revived, 'brings'));
  inv.out.result(result, (r, style) =>
    r.dryRun ? `${r.file} can be restored (${r.users} users); nothing was changed` : `${style.green('restored')} the store from ${r.file} (${r.users} users)`,
  );
}

/** Names shown in the warning, per kind; --json lists them all. */
const SHOWN = 5;

/** A name as the warning shows it: quoted when it holds the warning's own separators. */
const shown = (name: string) => (/[,;"\s]/.test(name) ? quote(name) : name);

/** What the restored backup grants that was revoked since it was made, in one line. */
export function revivedText(r: RevivedAccess, verb: 'brings' | 'would bring'): string {
  // Each item as `show` puts it: the name, quoted when need be.
  const some = <T>(what: string, items: readonly T[], show: (item: T) => string = (item) => shown(String(item))) => {
    if (items.length === 0) return [];
    const listed = items.slice(0, SHOWN).map(show).join(', ');
    return [`${what} (${items.length}: ${listed}${items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ''})`];
  };
  const parts = [
    ...some('users deleted', r.users),
    ...some('users disabled, expired or given an earlier expiry', r.enabled),
    ...some('admin rights taken away', r.admins),
    ...some('passwords changed', r.passwords),
    ...some('second factors deleted or disabled', r.factors, (f) => `${shown(f.userid)} ${f.type} ${f.id.slice(0, SHORT_ID)}`),
    ...some('API tokens deleted, replaced, expired or made read-only', r.tokens),
    ...some('realms made to require a second factor', r.realms),
    ...some('settings changed', r.settings),
  ];
  return `the backup ${verb} back what was revoked since it was made: ${parts.join('; ')}; revoke again what should stay revoked`;
}
