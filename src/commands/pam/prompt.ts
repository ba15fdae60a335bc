import { describeOffer } from '../../domain/second-factor.js';
import type { Invocation } from '../../invocation.js';
import { secondFactorOffer } from '../../services/authenticate.js';
import { boolOpt } from '../options.js';
import { openSession } from '../session.js';
import { pamUser } from './pam-user.js';

/**
 * `tfactl pam prompt`, run by pam_exec.so with `stdout` on the line before `pam check`: tells the
 * user what to type at the prompt that follows (pam_exec cannot word that prompt itself): which
 * second factors they have, and how many recovery keys are left. Someone tfactl does not know (or
 * who cannot sign in) is told no more than anyone: what may be typed.
 */
export async function run(inv: Invocation): Promise<void> {
  const { userid } = pamUser(inv);
  const session = await openSession(inv, { op: 'auth.verify', action: 'pam', target: userid });
  if (boolOpt(inv, 'password') === true) {
    // Before the password, nobody is told whether the name exists or what factors it has.
    const text = `Password and second factor for ${userid}: at the next prompt, type your tfactl password and right after it (no space) the code of your second factor (a TOTP code, a recovery key or a YubiKey OTP).`;
    inv.out.result({ userid, kinds: null, recoveryKeysLeft: null, text }, (r) => r.text);
    return;
  }
  const offer = await secondFactorOffer(session.store, userid, session.now());
  // Security keys answer through fido2-assert, which needs the challenge shared with pam check: not yet.
  const typed = offer === null || offer === 'none' ? [] : offer.kinds.filter((k) => k !== 'webauthn' && k !== 'u2f');
  const what = offer === null || offer === 'none' ? 'a TOTP code, a recovery key or a YubiKey OTP' : `a ${describeOffer({ ...offer, kinds: typed })}`;
  const text =
    offer !== null && offer !== 'none' && typed.length === 0
      ? `Second factor for ${userid}: none that can be typed (a security key, or a locked TOTP): ask an admin.`
      : offer === 'none'
        ? `No second factor is set for ${userid}: press Enter at the next prompt.`
        : `Second factor for ${userid}: type ${what} at the next prompt.`;
  const known = offer === null ? null : offer === 'none' ? { kinds: [], recoveryLeft: null } : offer;
  inv.out.result({ userid, kinds: known?.kinds ?? null, recoveryKeysLeft: known?.recoveryLeft ?? null, text }, (r) => r.text);
}
