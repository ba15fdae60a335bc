import { looksLikeRecoveryKey } from './recovery.js';
import { looksLikeYubicoOtp } from './yubico.js';

/**
 * The kinds of second factor that can answer a sign-in: typed at a prompt or given with --code
 * (TOTP, recovery key, YubiKey OTP), or a security key's answer (WebAuthn, legacy U2F) from a
 * browser, a web app or libfido2's fido2-assert.
 */
export type CodeKind = 'totp' | 'recovery' | 'yubico' | 'webauthn' | 'u2f';

/**
 * Tells a TOTP code (6 to 8 digits) from a recovery key (16 hex digits, dashes optional) and a
 * YubiKey OTP (32 to 64 modhex characters). A security key's answer (JSON, or fido2-assert's lines)
 * is told apart by the credential it names, which only the store knows: null here.
 */
export function inferCodeKind(code: string): CodeKind | null {
  const text = typedCode(code);
  if (/^[0-9]{6,8}$/.test(text)) return 'totp';
  if (looksLikeRecoveryKey(text)) return 'recovery';
  if (looksLikeYubicoOtp(text)) return 'yubico';
  return null;
}

/**
 * A code as typed, the way an authenticator app shows it: blanks around it dropped, and a TOTP code
 * in groups (`123 456`, `1234-5678`) joined. Anything else is left as it is (a recovery key keeps
 * its dashes: its own check reads them).
 */
export function typedCode(code: string): string {
  const text = code.trim();
  if (/^[0-9]+(?:[ -][0-9]+)+$/.test(text)) {
    const digits = text.replace(/[ -]/g, '');
    if (digits.length >= 6 && digits.length <= 8) return digits;
  }
  return text;
}

/** What a user may answer with, and what the prompt says about it. */
export interface SecondFactorOffer {
  readonly userid: string;
  readonly kinds: readonly CodeKind[];
  readonly recoveryLeft: number | null;
  /** Every second factor locked until then (epoch seconds) after too many failures; absent when not. */
  readonly lockedUntil?: number;
  /** The user's TOTP is locked after too many failed codes, so it is not among the kinds (others are, or `blocked` says none is). */
  readonly totpLocked?: true;
  /** Why none of the kinds is left: TOTP locked, or a realm that enforces a kind the user lacks. */
  readonly blocked?: 'totp locked' | 'enforced kind missing';
}

export function describeOffer(offer: SecondFactorOffer): string {
  // A WebAuthn key and a U2F registration are answered alike: one "security key".
  const kinds = offer.kinds.includes('webauthn') ? offer.kinds.filter((k) => k !== 'u2f') : offer.kinds;
  const parts = kinds.map((k) =>
    k === 'totp'
      ? 'TOTP code'
      : k === 'yubico'
        ? 'YubiKey OTP (touch the key)'
        : k === 'webauthn'
          ? 'security key'
          : k === 'u2f'
            ? 'U2F security key'
            : `recovery key (${offer.recoveryLeft ?? 0} left)`,
  );
  return parts.join(' or ');
}
