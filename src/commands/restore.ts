import { closeSync, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { INPUT_LIMITS, openCheckedFile, refuseReplaceable } from '../files.js';
import { type HeldStep, nothingRemoved, nothingRevived, type RemovedAccess, type RestoreEffect, type RevivedAccess } from '../domain/restore-revival.js';
import { countOf } from '../domain/text.js';
import { quote } from '../domain/userid.js';
import { CancelledError, RefusedError } from '../errors.js';
import { listenForInterrupts } from '../interrupts.js';
import type { Invocation } from '../invocation.js';
import { restoreStore } from '../services/backup.js';
import { hostConfig, keyPathOf, openSession, storePath } from './session.js';
import { resolveKeyPath } from '../domain/store-location.js';
import { confirm, requireConfirmation } from './confirm.js';
import { arg, boolOpt, namedFile } from './options.js';
import { SHORT_ID } from './tfa/render.js';

export async function run(inv: Invocation): Promise<void> {
  const file = resolve(namedFile(arg(inv, 0), 'restore'));
  const dryRun = boolOpt(inv, 'dryRun') === true;
  // A backup that is missing, not a regular file or too large is said first (exit 2, as for every
  // file tfactl reads), not after asking for --yes; restoreStore reads it, checked again.
  closeSync(openCheckedFile(file, { name: 'the backup', maxBytes: INPUT_LIMITS.backup }).fd);
  // Whoever could write the backup would write the store: its admins, its password hashes, what
  // was spent. Taken only from where root and the one restoring alone may write (as the store and
  // its key file are), dry run or not.
  if (!inv.ctx.remote) refuseReplaceable(file, inv.ctx.uid, 'the backup');
  if (!dryRun) requireConfirmation(inv, 'restore replaces every user, realm and factor in the store');
  // A key file made now could open no backup's secrets (each is sealed with the key kept with it):
  // refused before anything is made, instead of leaving a new store and a key of no use behind.
  const keyPath = keyPathOf(inv, storePath(inv));
  if (!dryRun && !inv.ctx.remote && !existsSync(keyPath)) {
    throw new RefusedError(`refusing to restore ${file}: there is no key file at ${keyPath}, and a new one could not open the backup's secrets; put the key file kept with the backup there, or set TFACTL_KEY_FILE to it`, 'key_missing');
  }
  const session = await openSession(inv, { op: 'store.whole', action: 'store.restore' }, { readOnly: dryRun, creates: !dryRun });
  // Said before the question on a terminal, and after the restore unless that said it already.
  let said: string | undefined;
  let saidRemoved: string | undefined;
  let saidHeld: string | undefined;
  // Ctrl-C or SIGTERM while the backup is read and checked (a large one takes seconds) stops the
  // restore before it replaces anything, and says so (exit 130, with --json in the envelope); a
  // dry run too. Heard once the replacing has begun, it lets it finish, as it is whole or not at
  // all; a second one ends the process at once (on PostgreSQL the replacing is then rolled back).
  // At the question, the prompt hears them itself and cancels.
  const interruption = listenForInterrupts(inv.ctx.io);
  let result;
  try {
    result = await restoreStore(session, file, {
      dryRun,
      // With --yes nobody is asked, and nothing needs saying before.
      ...(boolOpt(inv, 'yes') !== true && {
        beforeReplacing: async (preview: RestoreEffect) => {
          if (!nothingRevived(preview.revived)) inv.out.warn((said = revivedText(preview.revived, 'would bring')));
          if (!nothingRemoved(preview.removed)) inv.out.warn((saidRemoved = removedText(preview.removed, 'would take')));
          if (preview.held.length > 0) inv.out.warn((saidHeld = heldText(preview.held, 'would be')));
          await confirm(inv, `Replace the whole store with ${file}?`);
        },
      }),
      stillWanted: async () => {
        // Reading and checking never waited on anything: the loop turns here to hear a signal.
        await new Promise((turned) => setImmediate(turned));
        if (interruption.heard()) throw new CancelledError(dryRun ? 'interrupted' : `interrupted: nothing was restored from ${file}`);
      },
    });
  } finally {
    // A signal that came while the store was being replaced is heard (and let go) before the
    // default of ending the process comes back: the restore is done, and says so.
    await new Promise((turned) => setImmediate(turned));
    interruption.stop();
  }
  const found = nothingRevived(result.revived) ? undefined : revivedText(result.revived, 'would bring');
  if (found !== undefined && found !== said) inv.out.warn(result.dryRun ? found : revivedText(result.revived, 'brings'));
  const gone = nothingRemoved(result.removed) ? undefined : removedText(result.removed, 'would take');
  if (gone !== undefined && gone !== saidRemoved) inv.out.warn(result.dryRun ? gone : removedText(result.removed, 'took'));
  const held = result.held.length === 0 ? undefined : heldText(result.held, 'would be');
  if (held !== undefined && held !== saidHeld) inv.out.warn(result.dryRun ? held : heldText(result.held, 'were'));
  // Restored with the backup's key named by TFACTL_KEY_FILE: where commands look without it is
  // the old store's key, and they would be refused from now on. (None there: the store was used
  // with TFACTL_KEY_FILE before, as it is now. The restore is done: a file that cannot be read
  // here is left unsaid.)
  const usual = resolveKeyPath(storePath(inv), { ...inv.ctx.env, TFACTL_KEY_FILE: undefined }, hostConfig(inv));
  if (!result.dryRun && usual !== keyPath && !inv.ctx.remote) {
    let differs = false;
    try {
      differs = !readFileSync(usual).equals(readFileSync(keyPath));
    } catch {
      // Not there, or not to be read here.
    }
    if (differs) inv.out.warn(`the store's secrets now open with ${keyPath} only: the key file ${usual}, where commands look without TFACTL_KEY_FILE, is the old store's; copy ${keyPath} over it`);
  }
  // Entries a prune took away come back (and a retention setting takes them again in time).
  const trail = (r: typeof result) => (r.auditEntries === 0 ? '' : `; ${countOf(r.auditEntries, 'audit entry', 'audit entries')} only the backup has ${r.dryRun ? 'would be' : 'were'} added to the trail`);
  inv.out.result(result, (r, style) =>
    r.dryRun ? `${r.file} can be restored (${r.users} users${trail(r)}); nothing was changed` : `${style.green('restored')} the store from ${r.file} (${r.users} users${trail(r)})`,
  );
}

/** Names shown in the warning, per kind; --json lists them all. */
const SHOWN = 5;

/** A name as the warning shows it: quoted when it holds the warning's own separators. */
const shown = (name: string) => (/[,;"\s]/.test(name) ? quote(name) : name);

/** `items`, when there are any, as one part of a warning: `what (N: a, b and N more)`, each as `show` puts it. */
function some<T>(what: string, items: readonly T[], show: (item: T) => string = (item) => shown(String(item))): string[] {
  if (items.length === 0) return [];
  const listed = items.slice(0, SHOWN).map(show).join(', ');
  return [`${what} (${items.length}: ${listed}${items.length > SHOWN ? ` and ${items.length - SHOWN} more` : ''})`];
}

const factorShown = (f: { readonly userid: string; readonly id: string; readonly type: string }) => `${shown(f.userid)} ${f.type} ${f.id.slice(0, SHORT_ID)}`;

/** The backup's TOTP steps of a time still to come, held to now, in one line. */
export function heldText(held: readonly HeldStep[], verb: 'were' | 'would be'): string {
  const [what] = some('factors', held, (h) => `${shown(h.userid)} ${h.factor.slice(0, SHORT_ID)} step ${h.step}`);
  return `the backup says TOTP codes were used at a time still to come (a clock that ran ahead?): their steps ${verb} held to now's: ${what}`;
}

/** What the store has that the backup does not (made since it was), which the restore takes away, in one line. */
export function removedText(r: RemovedAccess, verb: 'took' | 'would take'): string {
  const parts = [
    ...some('users', r.users),
    ...some('second factors', r.factors, factorShown),
    ...some('API tokens', r.tokens),
    ...some('realms', r.realms),
  ];
  return `the restore ${verb} away what the store has and the backup does not: ${parts.join('; ')}`;
}

/** What the restored backup grants that was revoked since it was made, in one line. */
export function revivedText(r: RevivedAccess, verb: 'brings' | 'would bring'): string {
  const parts = [
    ...some('users deleted', r.users),
    ...some('users disabled, expired or given an earlier expiry', r.enabled),
    ...some('admin rights taken away', r.admins),
    ...some('passwords changed', r.passwords),
    ...some('second factors deleted or disabled', r.factors, factorShown),
    ...some('API tokens deleted, replaced, expired or made read-only', r.tokens),
    ...some('realms made to require a second factor', r.realms),
    ...some('settings changed', r.settings),
  ];
  return `the backup ${verb} back what was revoked since it was made: ${parts.join('; ')}; revoke again what should stay revoked`;
}
