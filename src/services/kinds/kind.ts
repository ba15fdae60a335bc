import type { CodeKind } from '../../domain/second-factor.js';
import type { AuditEntry, RealmRecord, Store, UserRecord } from '../../store/types.js';
import type { KeyChallenge } from './credential.js';

/** What signing a user in needs from outside: the store, time, randomness, the key, the audit. */
export interface AuthDeps {
  readonly store: Store;
  now(): number;
  /** The store's key, for opening sealed secrets (inside a transaction: checked on its unit of work, `tx`). */
  secretKey(tx?: Store): Promise<Buffer>;
  /** Random bytes (challenge ids, nonces for YubiKey validation requests, tokens). */
  randomBytes(n: number): Buffer;
  /** Waits (for password checks in flight). */
  sleep(ms: number): Promise<void>;
  /** Appends to the audit trail: inside a transaction, on the unit of work given (`tx`). */
  audit(entry: Omit<AuditEntry, 'ts' | 'actor'>, tx?: Store): Promise<void>;
}

/** Spending an answer that checked out: which factor it was, or why another sign-in beat it to it. */
export type Spent = { readonly spent: true; readonly factorId: string } | { readonly spent: false; readonly reason: string };

/**
 * The outcome of checking one answer against one kind of factor. An answer that checks out is not
 * yet used: `spend` uses it, by one conditional write on the unit of work it is given (the sign-in's
 * success is written in the same commit), and it is refused there if a concurrent sign-in spent it first.
 */
export type Verification =
  | { readonly ok: true; readonly recoveryLeft?: number; spend(tx: Store): Promise<Spent> }
  /** `unavailable`: nothing could be checked (a validation service down): not the person's failure. */
  | { readonly ok: false; readonly reason: string; readonly unavailable?: boolean };

/** Who is answering, for a kind's check, and what the challenge holds for security keys. */
export interface Answering {
  readonly deps: AuthDeps;
  readonly user: UserRecord;
  readonly realm: RealmRecord | undefined;
  readonly key: KeyChallenge | null;
}

/**
 * One kind of second factor at sign-in: how its answer is checked, and how it stands to the TOTP
 * lock. Each kind lives in its own module (kinds/totp.ts, ...); registry.ts finds them. A check
 * writes nothing: an answer is single use under concurrent callers through its `spend`, one
 * conditional write.
 */
export interface SignInKind {
  readonly kind: CodeKind;
  /** A failure also counts toward the TOTP lock (only TOTP does). */
  readonly countsOnTotpLock: boolean;
  /** A success lifts the TOTP lock and its count (TOTP itself, and a recovery key). */
  readonly liftsTotpLock: boolean;
  /**
   * Its check may wait on a network service (YubiKey validation): it runs outside the sign-in's
   * unit of work, which would otherwise hold the store's write lock through the wait.
   */
  readonly waitsOnNetwork: boolean;
  verify(who: Answering, answer: string): Promise<Verification>;
}
