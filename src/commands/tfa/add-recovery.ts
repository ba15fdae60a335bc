import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { refuseTakenName } from '../../files.js';
import { addRecoveryKeys } from '../../services/kinds/recovery-enrolment.js';
import { openSession } from '../session.js';
import { confirm, requireConfirmation, signsInFirst } from '../confirm.js';
import { arg, boolOpt, fileOpt } from '../options.js';
import type { Style } from '../../output.js';
import { refuseDiscardedSecret } from '../secrets.js';
import { recoveryKeysFileText, recoveryKeysText } from './render.js';
import { storeShownKeys } from '../before-commit.js';

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
  // Shown before the keys are stored, as the transaction that stores them commits: standard output
  // that cannot be written (a full disk, a reader gone) stores nothing, and with --regenerate the
  // keys in use still work. The file, if any, is written first (storeShownKeys).
  const undone = regenerate ? 'nothing was stored: any recovery keys in use still work' : 'nothing was stored';
  await storeShownKeys(output, `the recovery keys shown were not stored${regenerate ? ': the keys in use still work' : ''}`, (out) =>
    addRecoveryKeys(
      session,
      userid,
      regenerate,
      out.write && ((keys) => out.write?.(recoveryKeysFileText(userid, keys))),
      (result) => out.shown?.(() => inv.out.resultBeforeCommit({ id: result.id, userid: result.userid, keys: result.keys, regenerated: result.regenerated, output: output ?? null }, render, undone)),
    ),
    () => inv.out.delivered(undone),
  );
}

/** The keys as a person reads them (recoveryKeysText). */
function render(r: { readonly userid: string; readonly keys: readonly string[]; readonly regenerated: boolean; readonly output: string | null }, style: Style): string {
  return recoveryKeysText(`${style.green(r.regenerated ? 'replaced' : 'added')} recovery keys for ${r.userid}`, r.keys, r.output);
}
