import { looksLikeRecoveryKey } from './recovery.js';

/** The kinds of second factor a person can type at a prompt or pass with --code. */
export type CodeKind = 'totp' | 'recovery';
export const CODE_KINDS: readonly CodeKind[] = ['totp', 'recovery'];

/** Tells a TOTP code (6 to 8 digits) from a recovery key (16 hex digits, dashes optional). */
export function inferCodeKind(code: string): CodeKind | null {
  const text = code.trim();
  if (/^[0-9]{6,8}$/.test(text)) return 'totp';
  if (looksLikeRecoveryKey(text)) return 'recovery';
  return null;
}

/** What a user may answer with, and what the prompt says about it. */
export interface SecondFactorOffer {
  readonly userid: string;
  readonly kinds: readonly CodeKind[];
  readonly recoveryLeft: number | null;
}

export function describeOffer(offer: SecondFactorOffer): string {
  const parts = offer.kinds.map((k) => (k === 'totp' ? 'TOTP code' : `recovery key (${offer.recoveryLeft ?? 0} left)`));
  return parts.join(' or ');
}
