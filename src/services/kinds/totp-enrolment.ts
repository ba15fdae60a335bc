import { isRoot } from '../../domain/permissions.js';
import { typedCode } from '../../domain/second-factor.js';
import { open, openedIs, seal, secretContext, totpSecretMark } from '../../domain/secret-box.js';
import { describeTotpParams, parseTotpParams, sameTotpParams, type TotpParams, type TotpParamsInput } from '../../domain/totp-params.js';
import { AuthError, RefusedError, UserNotFoundError } from '../../errors.js';
import type { NewTotpFactor, RealmRecord, Store } from '../../store/types.js';
import { authorize, refuse } from '../authz.js';
import type { Session } from '../session.js';
import { totpIssuer } from '../settings.js';
import { requireUser } from '../lookup.js';
import { checkRealmAllows, newFactorId } from '../factors.js';

/**
 * Enrolling TOTP (the TOTP kind's enrolment; its sign-in is kinds/totp.ts): secret, parameters and
 * otpauth URI prepared without storing anything, confirmed by a code (or admitted unverified by an
 * admin), then stored with the confirming code's step as its replay guard.
 */

/** A TOTP factor about to be enrolled: nothing is stored until it is confirmed. */
export interface PreparedTotp {
  readonly factorId: string;
  readonly userid: string;
  readonly description: string;
  readonly issuer: string;
  readonly secret: string;
  readonly uri: string;
  readonly params: TotpParams;
  /** Whether the secret came with the request (in the app already) rather than made here. */
  readonly secretGiven: boolean;
}

export interface TotpRequest {
  readonly description: string;
  readonly issuer?: string | undefined;
  /** A base32 secret already parsed, or undefined to generate 160 random bits. */
  readonly secret?: string | undefined;
  readonly params: TotpParamsInput;
}

/** A new factor id: a random (version 4) UUID from the session's randomness. */

/**
 * Works out secret, parameters, issuer and URI for a new TOTP factor. In a realm that enforces TOTP
 * the realm's parameters apply, and asking for others is a usage error.
 */
export async function prepareTotp(session: Session, userid: string, realm: RealmRecord | undefined, req: TotpRequest): Promise<PreparedTotp> {
  const { encodeSecret, GENERATED_SECRET_BYTES, otpauthUri } = await import('../../domain/totp.js');
  const realmParams = realm?.enforce === 'totp' ? realm.totp : null;
  const params = parseTotpParams(req.params, realmParams ?? undefined);
  if (realmParams && !sameTotpParams(params, realmParams)) {
    // What the realm enforces refuses it, as a factor type the realm rules out is (exit 4, audited).
    await refuse(session, 'tfa.add', userid, `realm ${realm?.name} enforces TOTP with ${describeTotpParams(realmParams)}: leave out --digits, --period and --algorithm`, 'realm_policy');
  }
  const secret = req.secret ?? encodeSecret(session.random.bytes(GENERATED_SECRET_BYTES));
  const issuer = req.issuer ?? (await totpIssuer(session.store, session.hostname));
  return {
    factorId: newFactorId(session),
    userid,
    description: req.description,
    issuer,
    secret,
    uri: otpauthUri({ issuer, account: userid, secret, ...params }),
    params,
    secretGiven: req.secret !== undefined,
  };
}

/** How many codes of the wrong shape the terminal may be given before they count as tries. */
const MISSHAPEN_CODES = 5;

/**
 * Reads the code a person reads off their authenticator and checks it (one step either side);
 * returns its step, to be stored so the same code cannot sign in later. Each wrong code is audited;
 * the person may try `io.tries` times with the same secret (what they scanned stays valid), then
 * it fails with exit 5.
 */
export async function confirmTotp(session: Session, prepared: PreparedTotp, io: TotpEnrolmentIo, action: string): Promise<number> {
  const { matchTotp } = await import('../../domain/totp.js');
  const digits = prepared.params.digits;
  for (let attempt = 1, misshapen = 0; ; attempt++) {
    const code = typedCode(await io.readCode(prepared));
    // A typing slip (letters, a digit short) asked at the terminal is said and asked again without
    // using one of the tries: it cannot be what the app shows.
    if (io.tries > 1 && !new RegExp(`^[0-9]{${digits}}$`).test(code) && misshapen++ < MISSHAPEN_CODES) {
      io.retry(`a code of this factor is ${digits} digits: enter the one the app shows`);
      attempt--;
      continue;
    }
    const match = matchTotp(prepared.secret, code, prepared.params, session.now());
    if (match.valid) return match.step;
    await session.audit({ action, target: prepared.userid, outcome: 'failed', detail: { type: 'totp', reason: 'wrong verification code', attempt } });
    const message = 'the verification code does not match: check the clock of the device';
    // The app keeps the entry it scanned, for a secret now thrown away: the person must know to drop
    // it. A secret they gave is theirs to give again, and its entry stays good.
    if (attempt >= io.tries) {
      throw new AuthError(`${message}; nothing was stored: run the command again${prepared.secretGiven ? ' (with the same secret: its entry in the app stays)' : " (a secret tfactl made is made anew: remove this one's entry from the app)"}`);
    }
    io.retry(`${message}; try again with the next code`);
  }
}

/** The row for a prepared factor, its secret sealed to this user and factor. */
export async function totpFactorRow(session: Session, prepared: PreparedTotp, step: number | null): Promise<NewTotpFactor> {
  const key = await session.secretKey();
  return {
    id: prepared.factorId,
    userid: prepared.userid,
    description: prepared.description,
    created: session.now(),
    sealedSecret: seal(key, session.random.bytes(12), prepared.secret, secretContext(prepared.userid, prepared.factorId, 'totp')),
    params: prepared.params,
    issuer: prepared.issuer,
    lastStep: step,
    verified: step !== null,
    secretMark: totpSecretMark(key, prepared.userid, prepared.secret, prepared.params),
  };
}

/**
 * The user's TOTP factor (enabled or not) that already holds this secret, if any: replay protection
 * is per factor, so two factors with one secret would accept each code twice. Asked once before the
 * secret is shown, and again in the transaction that stores it (the store's write lock makes that
 * answer hold against a racing enrolment).
 */
async function factorWithSecret(session: Session, store: Store, prepared: PreparedTotp): Promise<string | undefined> {
  const key = await session.secretKey();
  for (const f of await store.getTotpSecrets(prepared.userid, true)) {
    if (openedIs(open(key, f.sealedSecret, secretContext(prepared.userid, f.id, 'totp')), prepared.secret)) return f.id;
  }
  return undefined;
}

const refuseKnownSecret = (session: Session, prepared: PreparedTotp, id: string) =>
  refuse(session, 'tfa.add', prepared.userid, `${prepared.userid} already has a TOTP factor with this secret (${id})`, 'exists');

const NO_VERIFY_REFUSAL = '--no-verify is for admins provisioning accounts';

/** Only root and admins may skip verification (provisioning for someone else). */
export async function authorizeNoVerify(session: Session, action: string, userid: string): Promise<void> {
  if (!session.actor.admin && !isRoot(session.actor)) await refuse(session, action, userid, NO_VERIFY_REFUSAL, 'permission_denied');
}

/** authorizeNoVerify's refusal, for a sign-in's precheck (before the --as user's second factor is spent). */
export function noVerifyRefusal(actor: { readonly userid: string; readonly admin: boolean }): void {
  if (!actor.admin && !isRoot(actor)) throw new RefusedError(NO_VERIFY_REFUSAL, 'permission_denied');
}

export interface TotpEnrolmentIo {
  /** Shows the QR code, secret and URI (or nothing, with --json), before the code is read. */
  present(prepared: PreparedTotp): Promise<void>;
  /** Called once the code matched (with --no-verify, at once): an io that had nothing to show before it (the code came with the command) shows it now. */
  confirmed?(prepared: PreparedTotp): Promise<void>;
  /** Reads the verification code; not called with --no-verify. */
  readCode(prepared: PreparedTotp): Promise<string>;
  /** How many codes the person may try (a terminal asks again; a flag gives one). */
  readonly tries: number;
  /** Says why the code is asked for again. */
  retry(message: string): void;
}

export interface EnrolledTotp {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly issuer: string;
  readonly secret: string;
  readonly uri: string;
  readonly algorithm: TotpParams['algorithm'];
  readonly digits: TotpParams['digits'];
  readonly period: number;
  readonly verified: boolean;
}

export function enrolled(prepared: PreparedTotp, verified: boolean): EnrolledTotp {
  return {
    id: prepared.factorId,
    userid: prepared.userid,
    description: prepared.description,
    issuer: prepared.issuer,
    secret: prepared.secret,
    uri: prepared.uri,
    ...prepared.params,
    verified,
  };
}

/**
 * Enrols a TOTP factor for an existing user: shown, then confirmed with a code (unless an admin
 * skips it with `verify: false`), then stored with that code's step as used. The acting user's
 * password (and second factor) was checked when the session opened.
 */
export type EnrolledTotpFactor = EnrolledTotp & {
  readonly hasRecoveryKeys: boolean;
  readonly totpLocked: boolean;
  /** How many TOTP factors the user has with this one: a script run again adds another each time. */
  readonly totpFactors: number;
};

export async function enrolTotp(
  session: Session,
  userid: string,
  req: TotpRequest & { verify: boolean },
  io: TotpEnrolmentIo,
  /**
   * Handed the result inside the transaction that stores it, before it commits: a result that
   * holds the secret (--json) is shown, or nothing is stored (standard output that cannot be written).
   */
  beforeCommit?: (result: EnrolledTotpFactor) => void | Promise<void>,
): Promise<EnrolledTotpFactor> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const realm = await session.store.getRealm(user.realm);
  await checkRealmAllows(session, realm, userid, 'totp');
  if (!req.verify) await authorizeNoVerify(session, 'tfa.add', userid);
  const prepared = await prepareTotp(session, userid, realm, req);
  const known = await factorWithSecret(session, session.store, prepared);
  if (known !== undefined) await refuseKnownSecret(session, prepared, known);
  await io.present(prepared);
  const step = req.verify ? await confirmTotp(session, prepared, io, 'tfa.add') : null;
  await io.confirmed?.(prepared);
  const row = await totpFactorRow(session, prepared, step);
  const raced = await session.store.transaction(async (tx) => {
    if (!(await tx.getUser(userid))) throw new UserNotFoundError(userid);
    const same = await factorWithSecret(session, tx, prepared);
    if (same !== undefined) return same;
    await tx.insertTotpFactor(row);
    await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'totp', id: row.id, verified: step !== null } }, tx);
    // Recovery keys are what gets a user in when the phone is lost: worth suggesting if missing.
    // A TOTP lock is the user's, not one factor's: the new factor's codes are refused too (the
    // usual lost-phone turn: the old entry deleted, a new one enrolled) until it is lifted.
    const result = {
      ...enrolled(prepared, step !== null),
      hasRecoveryKeys: (await tx.getRecoverySet(userid)) !== undefined,
      totpLocked: (await tx.getLockState(userid))?.totpLocked === true,
      totpFactors: (await tx.listFactors(userid)).filter((f) => f.type === 'totp').length,
    };
    await beforeCommit?.(result);
    return result;
  });
  // Another enrolment of the same secret stored it meanwhile: refused (and audited) outside the
  // transaction, which stored nothing.
  if (typeof raced === 'string') return refuseKnownSecret(session, prepared, raced);
  return raced;
}

