/**
 * A password and a second factor typed at one prompt, one right after the other (PAM's pam_exec
 * asks once: `Password:`), as FreeIPA takes password and OTP. What ends the text decides where the
 * password stops: a code of a factor the user has, longest first, so the split never guesses
 * between lengths a user has no factor of.
 */
export interface TypedFactors {
  /** The digits of the user's enabled TOTP factors. */
  readonly totpDigits: readonly number[];
  /** The length of an OTP of each of the user's YubiKeys (its public id plus 32). */
  readonly yubicoLengths: readonly number[];
  /** Whether the user has recovery keys left: typed as printed, xxxx-xxxx-xxxx-xxxx (or spaces for the dashes). */
  readonly recovery: boolean;
}

const MODHEX = /^[cbdefghijklnrtuv]+$/i;
/** A recovery key as printed, or read out with spaces for its dashes (the same separator throughout). */
const RECOVERY = /[0-9a-f]{4}([- ])[0-9a-f]{4}\1[0-9a-f]{4}\1[0-9a-f]{4}$/i;

/** The password and the code, or null when no factor the user has ends what they typed. */
export function splitPasswordAndCode(typed: string, factors: TypedFactors): { readonly password: string; readonly code: string } | null {
  const at = (length: number) => (typed.length > length ? { password: typed.slice(0, -length), code: typed.slice(-length) } : null);
  for (const length of [...new Set(factors.yubicoLengths)].sort((a, b) => b - a)) {
    const split = at(length);
    if (split && MODHEX.test(split.code)) return split;
  }
  if (factors.recovery && RECOVERY.test(typed)) {
    const split = at(19);
    if (split) return split;
  }
  for (const digits of [...new Set(factors.totpDigits)].sort((a, b) => b - a)) {
    const split = at(digits);
    if (split && /^[0-9]+$/.test(split.code)) return split;
  }
  return null;
}
