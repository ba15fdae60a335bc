import { describeOffer } from '../../domain/second-factor.js';
import { escapeText } from '../../domain/text.js';
import { formatTime } from '../../domain/dates.js';
import { tfactlLine } from '../../domain/command-line.js';
import { ROOT_USERID } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { pamPrompt, type PamPrompt } from '../../services/pam.js';
import { fido2Instructions } from '../webauthn/fido2-lines.js';
import { boolOpt } from '../options.js';
import { authDeps, openSession } from '../session.js';
import { pamUser } from './pam-user.js';

/**
 * `tfactl pam prompt`, run by pam_exec.so with `stdout` on the line before `pam check`: tells the
 * user what to type at the prompt that follows (pam_exec cannot word that prompt itself): which
 * second factors they have, how many recovery keys are left, and for a security key the lines to
 * give fido2-assert where the key is plugged in (the challenge they carry is kept for `pam check`).
 * Someone tfactl does not know (or who cannot sign in) is told no more than anyone: what may be typed.
 */
export async function run(inv: Invocation): Promise<void> {
  const { userid } = pamUser(inv);
  const session = await openSession(inv, { op: 'auth.verify', action: 'pam', target: userid }, { trusted: true });
  if (boolOpt(inv, 'password') === true) {
    // Before the password, nobody is told whether the name exists or what factors it has.
    const text = `Password and second factor for ${userid}: at the next prompt, type your tfactl password and right after it (no space) the code of your second factor (a TOTP code, a recovery key or a YubiKey OTP).`;
    inv.out.result({ userid, kinds: null, recoveryKeysLeft: null, fido2: [], text }, (r) => r.text);
    return;
  }
  const { offer, keys } = await pamPrompt(authDeps(inv, session.store, (tx) => session.secretKey(tx), userid), userid);
  const text = promptText(userid, offer, keys, boolOpt(inv, 'nullok') === true);
  const known = offer === null ? null : offer === 'none' ? { kinds: [], recoveryLeft: null } : offer;
  const fido2 = keys?.fido2.map((f) => ({ factorId: f.factorId, kind: f.kind, input: f.input, options: f.options })) ?? [];
  // Its lines are lines (the security key's instructions), each escaped as the renderer's data would be.
  inv.out.result({ userid, kinds: known?.kinds ?? null, recoveryKeysLeft: known?.recoveryLeft ?? null, fido2, text }, () => text.split('\n').map(escapeText).join('\n'));
}

/** What the prompt line says: what to type, or why nothing typed can sign in now. */
function promptText(userid: string, offer: PamPrompt['offer'], keys: PamPrompt['keys'], nullok: boolean): string {
  const to = `Second factor for ${userid}`;
  if (offer === 'none') {
    return nullok
      ? `No second factor is set for ${userid}: press Enter at the next prompt.`
      : `No second factor is set for ${userid}, and one is needed here: ${userid === ROOT_USERID ? `the store's owner adds one on its host (${tfactlLine('tfa add totp', [ROOT_USERID])})` : 'ask an admin to add one'} (pressing Enter at the next prompt is refused).`;
  }
  const keyLines = keys ? fido2Instructions(keys, false, 'and paste the line it prints at the next prompt.') : [];
  // Someone tfactl does not know (or who cannot sign in): told what anyone may type.
  if (offer === null) return `${to}: type a TOTP code, a recovery key or a YubiKey OTP at the next prompt.`;
  if (offer.lockedUntil !== undefined) return `${to}: every second factor is locked until ${formatTime(offer.lockedUntil)} after too many failures: ask an admin (every answer is refused until then).`;
  const typed = offer.kinds.filter((k) => k !== 'webauthn' && k !== 'u2f');
  const locked = offer.totpLocked ? ' (TOTP is locked after too many failures)' : '';
  if (typed.length > 0) return [`${to}${locked}: type a ${describeOffer({ ...offer, kinds: typed })} at the next prompt.`, ...keyLines].join('\n');
  if (keys) return `${to}${locked}: your security key.\n${keyLines.join('\n')}`;
  if (offer.blocked === 'totp locked') return `${to}: TOTP is locked after too many failures: ask an admin to unlock it.`;
  if (offer.blocked === 'enforced kind missing') return `${to}: this realm asks for a kind of second factor ${userid} does not have: ask an admin to add one.`;
  return `${to}: none left that can be used here (recovery keys all used, or a security key without fido2-assert's lines): ask an admin.`;
}
