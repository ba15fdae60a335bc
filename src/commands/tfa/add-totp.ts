import { parseComment } from '../../domain/account.js';
import { tfactlLine } from '../../domain/command-line.js';
import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { enrolTotp, type EnrolledTotpFactor, noVerifyRefusal } from '../../services/kinds/totp-enrolment.js';
import { checkFactorAddable } from '../../services/factors.js';
import { openSession } from '../session.js';
import { arg, boolOpt, stringOpt } from '../options.js';
import { actingAs, describeEnrolled, recoveryHint, unverifiedWarning } from './render.js';
import { totpEnrolmentView } from '../views.js';
import { shownBeforeCommit } from '../before-commit.js';
import { parseTotpRequestOptions, refuseUnseenTotpSecret, requireVerificationCode, totpIo } from './totp-io.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const verify = boolOpt(inv, 'verify') !== false;
  const request = await parseTotpRequestOptions(inv);
  const io = totpIo(inv, { verify, codeFlag: '--code', secretFlag: '--secret' });
  // Why no code can be asked for says more than where the secret would go (standard output
  // redirected is both), so it comes first.
  requireVerificationCode(inv, { verify, codeFlag: '--code', secretFlag: '--secret' });
  refuseUnseenTotpSecret(inv, '--secret');
  const session = await openSession(inv, {
    op: 'tfa.manage',
    action: 'tfa.add',
    target: userid,
    // Refused before a second factor of the --as user is spent, not after.
    ...(!verify && { precheck: async (_store, actor) => noVerifyRefusal(actor) }),
  });
  let description = stringOpt(inv, 'description');
  if (description === undefined && inv.ctx.io.stdinIsTTY && !inv.out.json) {
    // Nothing is asked for a user who is not there, or may not have it.
    await checkFactorAddable(session, userid, 'totp');
    description = await inv.ctx.prompter.input('Description of the device or app (e.g. "pixel-7 authy"):', 'TOTP');
  }
  const report = (result: EnrolledTotpFactor, beforeCommit: boolean) => {
    if (!result.verified) inv.out.warn(unverifiedWarning(result));
    if (result.totpFactors > 1) {
      inv.out.warn(`${userid} now has ${result.totpFactors} TOTP factors, each of which signs in: if this one replaces another, delete that (see ${tfactlLine('tfa list', [userid])})`);
    }
    if (result.totpLocked) {
      inv.out.warn(`${userid}'s TOTP is locked after too many wrong codes: this factor's codes are refused too until an admin runs 'tfactl tfa unlock ${userid}' (or a recovery key signs ${userid} in)`);
    }
    if (beforeCommit) inv.out.resultBeforeCommit(totpEnrolmentView(result), describeEnrolled, 'nothing was stored');
    else inv.out.result(totpEnrolmentView(result), describeEnrolled);
  };
  // With --json the result is where the secret is shown: written before the factor is stored, so
  // that standard output that cannot be written stores nothing (as the terminal's QR code is).
  const reported = await shownBeforeCommit(inv.out.json, 'the TOTP factor shown was not stored', (shown) =>
    enrolTotp(session, userid, { ...request, description: parseComment(description ?? '', 'description') ?? 'TOTP', verify }, io, shown && ((r) => shown(() => report(r, true)))),
    undefined,
    () => inv.out.delivered('nothing was stored'),
  );
  if (!reported.shown) report(reported.result, false);
  if (!reported.result.hasRecoveryKeys) inv.out.note(recoveryHint(userid, actingAs(session.actor)));
}
