import { parseComment, parseEmail } from '../../domain/account.js';
import { parseDate } from '../../domain/dates.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { GlobalOptions, Invocation } from '../../invocation.js';
import { newPasswordInput } from '../credentials.js';
import { openSession, viewTime } from '../session.js';
import { addUser, type AddedUser, type NewUserTfa } from '../../services/users.js';
import { arg, boolOpt, fileOpt, requireSecretInput, stringOpt } from '../options.js';
import { refuseTakenName } from '../../files.js';
import type { Style } from '../../output.js';
import { refuseDiscardedSecret } from '../secrets.js';
import { type KeysOut, shownBeforeCommit, storeShownKeys } from '../before-commit.js';
import { userFields } from '../render.js';
import { totpEnrolmentView, userView, yubikeyView } from '../views.js';
import { actingAs, recoveryHint, recoveryKeysFileText, recoveryKeysText, unverifiedWarning } from '../tfa/render.js';
import { parseTotpRequestOptions, refuseUnseenTotpSecret, requireVerificationCode, totpIo } from '../tfa/totp-io.js';
import { yubicoRequest } from '../tfa/yubico-options.js';
import { parseYubicoOtp } from '../../domain/yubico.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const withPassword = boolOpt(inv, 'password') !== false;
  const email = parseEmail(stringOpt(inv, 'email') ?? '');
  const comment = parseComment(stringOpt(inv, 'comment') ?? '');
  const expireText = stringOpt(inv, 'expire');
  const expire = expireText === undefined || expireText === 'never' ? null : parseDate(expireText, 'expiry date');
  const yubicoOtp = stringOpt(inv, 'yubicoOtp');
  // Options that only mean something for one kind of factor: given, they ask for it (as --tfa
  // would), and with another --tfa they are a mistake, never silently dropped.
  const given = (flags: Record<string, boolean>) => Object.keys(flags).filter((flag) => flags[flag]);
  const totpFlags = given({
    '--totp-secret': stringOpt(inv, 'totpSecret') !== undefined,
    '--code': stringOpt(inv, 'code') !== undefined,
    '--no-verify': boolOpt(inv, 'verify') === false,
    '--qr': stringOpt(inv, 'qr') !== undefined,
  });
  const yubicoFlags = given({ '--aes-key': stringOpt(inv, 'aesKey') !== undefined, '--private-id': stringOpt(inv, 'privateId') !== undefined });
  const tfaOption = stringOpt(inv, 'tfa')?.toLowerCase();
  // Without --tfa, what the options name, else what the realm enforces ('auto', never typed).
  if (tfaOption !== undefined && tfaOption !== 'totp' && tfaOption !== 'yubico' && tfaOption !== 'none') {
    throw new UsageError(`invalid --tfa ${JSON.stringify(stringOpt(inv, 'tfa'))}: expected totp, yubico or none`);
  }
  const tfaType = tfaOption ?? (yubicoOtp !== undefined ? 'yubico' : totpFlags.length > 0 ? 'totp' : 'auto');
  if (tfaType === 'yubico' && yubicoOtp === undefined) throw new UsageError('--tfa yubico needs --yubico-otp (touch the key)');
  if (tfaType !== 'yubico' && yubicoOtp !== undefined) throw new UsageError('--yubico-otp goes with --tfa yubico', 'conflicting_options');
  if (yubicoOtp === undefined && yubicoFlags.length > 0) {
    // Beside another --tfa they contradict it (as the TOTP options do below); alone, the OTP is missing.
    const other = tfaOption !== undefined && tfaOption !== 'yubico';
    throw new UsageError(`${yubicoFlags.join(' and ')} go${yubicoFlags.length === 1 ? 'es' : ''} with --yubico-otp${other ? ` (--tfa yubico), not --tfa ${tfaOption}` : ''}`, other ? 'conflicting_options' : 'usage');
  }
  if (tfaType !== 'totp' && tfaType !== 'auto' && totpFlags.length > 0) throw new UsageError(`${totpFlags.join(', ')} go${totpFlags.length === 1 ? 'es' : ''} with --tfa totp`, 'conflicting_options');
  // A name for the factor enrolled now: with none named, whether one is enrolled is the realm's to
  // say (the service refuses it where the realm enforces none).
  const description = stringOpt(inv, 'description');
  if (description !== undefined && tfaType === 'none') {
    throw new UsageError('--description names the factor enrolled with the user: give --tfa totp or --tfa yubico, not --tfa none', 'conflicting_options');
  }
  if (withPassword) requireSecretInput(inv, `a password for ${userid.id}`, ', or --no-password to create the account without one');
  // Standard input would carry the new user's password, which --no-password says there is none
  // of (with --as or a token it carries the acting user's, and stays).
  const globals = inv.opts as GlobalOptions;
  const actingByItself = globals.as === undefined && !inv.ctx.env.TFACTL_AS && globals.token === undefined && !inv.ctx.env.TFACTL_TOKEN;
  if (!withPassword && globals.passwordStdin === true && actingByItself) {
    throw new UsageError(`--no-password creates ${userid.id} without a password: leave out --password-stdin, or give the password and leave out --no-password`, 'conflicting_options');
  }
  const verify = boolOpt(inv, 'verify') !== false;
  if (tfaType === 'totp') {
    requireVerificationCode(inv, { verify, codeFlag: '--code', secretFlag: '--totp-secret' });
    refuseUnseenTotpSecret(inv, '--totp-secret');
  }
  const tfa: NewUserTfa =
    tfaType === 'none'
      ? { type: 'none' }
      : tfaType === 'yubico'
        ? { type: 'yubico', yubico: yubicoRequest(inv, parseYubicoOtp(yubicoOtp ?? '').otp) }
        : {
          type: tfaType,
          totp: { ...(await parseTotpRequestOptions(inv, 'totpSecret')), description: parseComment(description ?? '', 'description') ?? 'TOTP' },
          verify,
          named: description !== undefined,
          io: totpIo(inv, {
            verify,
            codeFlag: '--code',
            secretFlag: '--totp-secret',
            ...(tfaType === 'auto' && { askedByRealm: `the realm of ${userid.id} enforces TOTP, so it is enrolled now (--tfa none adds the user without it, to enrol later with tfa add totp)` }),
          }),
        };

  // Recovery keys made with the user, as tfa add recovery makes them: shown (or written) before
  // anything is stored, never to a standard output that reaches no one.
  const recoveryOutput = fileOpt(inv, 'recoveryOutput', '--recovery-output');
  const withRecovery = boolOpt(inv, 'recoveryKeys') === true || recoveryOutput !== undefined;
  if (withRecovery && recoveryOutput === undefined) refuseDiscardedSecret(inv, 'the recovery keys', 'give --recovery-output FILE, or let them be shown');
  // Before a sign-in (--as) spends its code on a file that is then refused.
  if (recoveryOutput !== undefined && !inv.ctx.remote) refuseTakenName(recoveryOutput);

  const password = withPassword ? newPasswordInput(inv, `a new password for ${userid.id}`) : null;
  const session = await openSession(inv, { op: 'user.create', action: 'user.add', target: userid.id, ...(password && { precheck: (store) => password.precheck(store) }) }, { creates: true });
  const time = await viewTime(inv, session);
  const show = (added: AddedUser, beforeCommit: boolean) => {
    for (const w of added.warnings) inv.out.warn(w);
    if (added.totp && !added.totp.verified) inv.out.warn(unverifiedWarning(added.totp));
    const view = {
      user: userView(added.user, time),
      totp: added.totp && totpEnrolmentView(added.totp),
      yubico: added.yubico && yubikeyView(added.yubico),
      recovery: added.recovery && { id: added.recovery.id, keys: added.recovery.keys, output: recoveryOutput ?? null },
    };
    const render = (r: typeof view, style: Style) =>
      [
        `${style.green('added')} ${r.user.userid}`,
        userFields(r.user, style),
        ...(r.totp ? [`${style.bold('totp:')}     ${r.totp.id}${r.totp.verified ? '' : ' (not verified)'}`] : []),
        ...(r.yubico ? [`${style.bold('yubikey:')}  ${r.yubico.publicId} (${r.yubico.id})`] : []),
        ...(r.recovery ? ['', recoveryKeysText(`${style.bold('recovery keys')} of ${r.user.userid}`, r.recovery.keys, r.recovery.output)] : []),
      ].join('\n');
    if (beforeCommit) inv.out.resultBeforeCommit(view, render, `nothing was stored: ${userid.id} was not added`);
    else inv.out.result(view, render);
  };
  // The keys' file and output as tfa add recovery has them (storeShownKeys): never a key stored
  // that nobody has, nor a file of keys that do not work. With --json a TOTP secret is in the
  // result, which then goes out before the commit too.
  const notStored = `${userid.id} was not stored${withRecovery ? ', nor the recovery keys shown' : ''}`;
  const delivered = () => inv.out.delivered(`nothing was stored: ${userid.id} was not added`);
  const store = (out: KeysOut) =>
    addUser(
      session,
      {
        userid,
        password: password && password.read,
        admin: boolOpt(inv, 'admin') === true,
        enabled: boolOpt(inv, 'disabled') !== true,
        email,
        comment,
        expire,
      },
      tfa,
      {
        ...(withRecovery && { recoveryKeys: { ...(out.write && { beforeStoring: (keys: readonly string[]) => out.write?.(recoveryKeysFileText(userid.id, keys)) }) } }),
        // Only a result with a secret in it: one without is written once the user is stored.
        ...(out.shown && { beforeCommit: async (result: AddedUser) => {
          if (result.recovery || result.totp) await out.shown?.(() => show(result, true));
        } }),
      },
    );
  const { result: added, shown } = withRecovery
    ? { result: await storeShownKeys(recoveryOutput, notStored, store, delivered), shown: true }
    : await shownBeforeCommit(inv.out.json, notStored, (shown) => store({ write: undefined, shown }), undefined, delivered);
  if (!shown) show(added, false);
  if (added.totp && !added.recovery) inv.out.note(recoveryHint(added.user.userid, actingAs(session.actor)));
}
