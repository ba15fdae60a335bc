import type { CodeKind } from '../../domain/second-factor.js';
import type { SignInKind } from './kind.js';

/**
 * Every kind of second factor that can answer a sign-in, each loaded only when an answer of its
 * kind comes (a TOTP sign-in never loads the YubiKey validation client). A new kind is a module
 * and a line here.
 */
const KINDS: Readonly<Record<CodeKind, () => Promise<SignInKind>>> = {
  totp: async () => (await import('./totp.js')).totp,
  recovery: async () => (await import('./recovery.js')).recovery,
  yubico: async () => (await import('./yubico.js')).yubico,
  webauthn: async () => (await import('./credential.js')).webauthn,
  u2f: async () => (await import('./credential.js')).u2f,
};

export function signInKind(kind: CodeKind): Promise<SignInKind> {
  return KINDS[kind]();
}
