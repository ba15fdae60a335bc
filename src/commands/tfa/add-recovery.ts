import { parseUserId } from '../../domain/userid.js';
import { StoreError, TfaError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { createPrivateFile, refuseTakenName } from '../../files.js';
import { addRecoveryKeys } from '../../services/kinds/recovery-enrolment.js';
import { openSession } from '../session.js';
import { confirm, requireConfirmation, signsInFirst } from '../confirm.js';
import { holdInterrupts, undoOnInterrupt } from '../../interrupt-holds.js';
import { arg, boolOpt, fileOpt } from '../options.js';
import type { Style } from '../../output.js';
import { refuseDiscardedSecret } from '../secrets.js';
import { recoveryKeysFileText, recoveryKeysText } from './render.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const regenerate = boolOpt(inv, 'regenerate') === true;
  const output = fileOpt(inv, 'output', '--output');
  if (output === undefined) refuseDiscardedSecret(inv, 'the keys', 'give --output FILE, or let them be shown');
  if (regenerate) requireConfirmation(inv, '--regenerate makes any recovery keys not yet used useless');
  // Asked before a sign-in (--as) rather than after it: a no would else have spent its TOTP code.
  const question = `Replace the recovery keys of ${userid}? Any not yet used stop working.`;
  const signsIn = regenerate && signsInFirst(inv);
  if (signsIn) {
    // Nor is the code spent for a file that is then refused.
    if (output !== undefined && !inv.ctx.remote) refuseTakenName(output);
    await confirm(inv, question);
  }
  const session = await openSession(inv, { op: 'tfa.manage', action: 'tfa.add', target: userid });
  if (regenerate && !signsIn) await confirm(inv, question);
  // Claimed, then written and flushed, before the keys are stored: a file that cannot be written
  // (a full disk) changes nothing, and keys the store then refuses are removed with it.
  const file = output === undefined ? undefined : createPrivateFile(output);
  // Ended by Ctrl-C or SIGTERM before the store took the keys (waiting on its lock): the file goes,
  // as on any failure, rather than stay looking like a finished run's with keys that never worked.
  const keep = file && undoOnInterrupt(() => file.discard());
  // Shown before the keys are stored, as the transaction that stores them commits: standard output
  // that cannot be written (a full disk, a reader gone) stores nothing, and with --regenerate the
  // keys in use still work.
  const undone = regenerate ? 'nothing was stored: any recovery keys in use still work' : 'nothing was stored';
  let shown = false;
  let committing: (() => void) | undefined;
  try {
    await addRecoveryKeys(
      session,
      userid,
      regenerate,
      file && ((keys) => file.write(recoveryKeysFileText(userid, keys))),
      (result) => {
        inv.out.resultBeforeCommit({ id: result.id, userid: result.userid, keys: result.keys, regenerated: result.regenerated, output: output ?? null }, render, undone);
        shown = true;
        // From here the store commits (on PostgreSQL, a round trip): Ctrl-C or SIGTERM meanwhile
        // must not take back the file of keys it may have stored.
        committing = holdInterrupts();
      },
    );
    keep?.();
    committing?.();
  } catch (e) {
    keep?.();
    committing?.();
    file?.discard();
    // Shown, then not stored (the commit failed: a full disk, a lost connection): said plainly,
    // after the result that already went out.
    if (shown && e instanceof TfaError) throw new StoreError(`${e.message}; the recovery keys shown were not stored${regenerate ? ': the keys in use still work' : ''}`, e.code);
    throw e;
  }
}

/** The keys as a person reads them (recoveryKeysText). */
function render(r: { readonly userid: string; readonly keys: readonly string[]; readonly regenerated: boolean; readonly output: string | null }, style: Style): string {
  return recoveryKeysText(`${style.green(r.regenerated ? 'replaced' : 'added')} recovery keys for ${r.userid}`, r.keys, r.output);
}
