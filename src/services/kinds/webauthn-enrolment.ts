import { challengeId } from '../../domain/sign-in.js';
import { createHash } from 'node:crypto';
import { coseToJwk } from '../../domain/cose.js';
import { assertionPublicKey, type CredentialPublicKey, decodeBase64, parseClientData } from '../../domain/fido.js';
import { isLoopbackOrigin } from '../../domain/loopback-ceremony.js';
import { ceremonyOrigins, tightenedCeremony } from '../../domain/webauthn-settings.js';
import { UsageError } from '../../errors.js';
import { authorize, refuse } from '../authz.js';
import { checkRealmAllows, newFactorId } from '../factors.js';
import { requireUser } from '../lookup.js';
import type { Session } from '../session.js';
import { webauthnSettings } from '../settings.js';

/**
 * Enrolling a WebAuthn credential: a registration challenge (120 s, single use, in the store like a
 * sign-in's), then the browser's RegistrationResponseJSON checked with @simplewebauthn/server and
 * stored with the RP id it was made under. ES256 and RS256 (what Proxmox accepts), attestation
 * `none`, user verification as the `webauthn.user-verification` setting says, the user's
 * credentials excluded. @simplewebauthn/server loads only here (sign-in checks with node:crypto alone).
 */

/** How long a registration challenge may be answered, as a sign-in's. */
export const REGISTRATION_SECONDS = 120;
/** COSE algorithms offered: ES256 and RS256. */
const ALGORITHMS = [-7, -257];
/** The smallest RS256 key a new registration may have (imports keep what Proxmox took, from 1024 bits). */
const NEW_RSA_MIN_BITS = 2048;
/** WebAuthn §7.1 step 18: a longer credential id fails registration. */
const MAX_CREDENTIAL_ID_BYTES = 1023;

export interface WebauthnEnrolmentRequest {
  readonly description: string;
  /** The RP id the credential is made under (default: the webauthn.rp-id setting). */
  readonly rpId?: string | undefined;
  /** Origins the answer may come from (see ceremonyOrigins); default: the allowed ones that fit. */
  readonly origins?: readonly string[] | undefined;
  /**
   * The loopback page serves this ceremony: RP id `localhost`, and the page's origin (known once it
   * listens) is given by the process that serves it, at finish.
   */
  readonly loopback?: boolean;
}

/** What `--begin` hands out: PublicKeyCredentialCreationOptionsJSON and the challenge's id. */
export interface RegistrationChallenge {
  readonly id: string;
  readonly userid: string;
  readonly expires: number;
  readonly rpId: string;
  readonly publicKey: CreationOptionsJSON;
}

/** PublicKeyCredentialCreationOptionsJSON as tfactl writes it. */
export interface CreationOptionsJSON {
  readonly rp: { readonly name: string; readonly id: string };
  readonly user: { readonly id: string; readonly name: string; readonly displayName: string };
  readonly challenge: string;
  readonly pubKeyCredParams: readonly { readonly alg: number; readonly type: 'public-key' }[];
  readonly timeout: number;
  readonly excludeCredentials: readonly { readonly id: string; readonly type: 'public-key'; readonly transports?: readonly string[] }[];
  readonly authenticatorSelection: { readonly residentKey: 'discouraged'; readonly requireResidentKey: false; readonly userVerification: 'preferred' | 'required' };
  readonly attestation: 'none';
  readonly extensions: { readonly credProps: true };
}

/** What the challenge keeps in the store. */
interface RegistrationData {
  readonly challenge: string;
  readonly rpId: string;
  readonly origins: readonly string[];
  readonly loopback: boolean;
  readonly description: string;
  readonly userVerification: 'preferred' | 'required';
}

export interface EnrolledCredential {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly credentialId: string;
  readonly rpId: string;
  readonly counter: number;
  readonly algorithm: 'ES256' | 'RS256';
  readonly warnings: readonly string[];
}

/**
 * The WebAuthn user handle of a user: stable (an authenticator keeps one discoverable credential a
 * user of an RP), opaque, and the same in every store. SHA-256 of a label and the user id.
 */
export function webauthnUserHandle(userid: string): string {
  return createHash('sha256').update(`tfactl webauthn user\0${userid}`).digest().subarray(0, 32).toString('base64url');
}

/**
 * Issues a registration challenge for `userid`: checks what the realm allows and the origins before
 * anything is stored. Who may: the user, or an admin (tfa.manage), as for every factor.
 */
export async function beginWebauthnEnrolment(session: Session, userid: string, req: WebauthnEnrolmentRequest): Promise<RegistrationChallenge> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const realm = await session.store.getRealm(user.realm);
  await checkRealmAllows(session, realm, userid, 'webauthn');
  const settings = await webauthnSettings(session.store, session.hostname);
  const rpId = req.loopback ? 'localhost' : (req.rpId ?? settings.rpId);
  const origins = req.loopback ? [] : ceremonyOrigins(rpId, req.origins ?? [], settings.origins);
  if (!req.loopback && origins.length === 0) {
    throw new UsageError(
      // --origin only picks among the allowed origins (but a loopback page's under localhost).
      `no origin may answer for WebAuthn RP id ${rpId}: allow the web page's origin with the webauthn.origin setting (tfactl settings set webauthn.origin https://HOST)${rpId === 'localhost' ? ", or give an http://localhost origin with --origin" : ''}`,
      'invalid_origin',
    );
  }
  const factors = await session.store.listFactors(userid);
  const exclude = factors.flatMap((f) =>
    f.type === 'webauthn' && f.credentialId !== null && (f.rpId ?? settings.rpId) === rpId ? [{ id: f.credentialId, type: 'public-key' as const }] : [],
  );
  const now = session.now();
  const challenge = session.random.bytes(32).toString('base64url');
  const id = challengeId(session.random.bytes(32));
  const publicKey: CreationOptionsJSON = {
    rp: { name: settings.rpName, id: rpId },
    // The user id, never the admin's comment on the user ("leaving in March"): the browser shows
    // it, and passkey managers keep (and sync) it with the credential.
    user: { id: webauthnUserHandle(userid), name: userid, displayName: userid },
    challenge,
    pubKeyCredParams: ALGORITHMS.map((alg) => ({ alg, type: 'public-key' as const })),
    timeout: REGISTRATION_SECONDS * 1000,
    excludeCredentials: exclude,
    authenticatorSelection: { residentKey: 'discouraged', requireResidentKey: false, userVerification: settings.userVerification },
    attestation: 'none',
    extensions: { credProps: true },
  };
  const data: RegistrationData = { challenge, rpId, origins, loopback: req.loopback === true, description: req.description, userVerification: settings.userVerification };
  const expires = now + REGISTRATION_SECONDS;
  await session.store.insertChallenge({ id, userid, purpose: 'registration', created: now, expires, data: JSON.stringify(data) }, now);
  return { id, userid, expires, rpId, publicKey };
}

/**
 * Checks the browser's answer to registration challenge `challengeId` and stores the credential.
 * The challenge is taken before the answer is checked: a failed or racing answer gets no second
 * try. Refusals are audited (exit 4); a credential already registered is refused too.
 */
export async function finishWebauthnEnrolment(
  session: Session,
  userid: string,
  challengeId: string,
  answer: unknown,
  served: { readonly loopbackOrigin?: string } = {},
): Promise<EnrolledCredential> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const fail = (reason: string, code = 'webauthn_refused') => refuse(session, 'tfa.add', userid, reason, code);
  const taken = await session.store.takeChallenge(challengeId, userid, 'registration', session.now());
  if (!taken) return fail('the registration challenge is unknown, used or expired: start again with --begin', 'challenge_unknown');
  const begun = JSON.parse(taken.data) as RegistrationData;
  // Checked again: the realm and the settings may have changed in the 120 s (tightened, not widened).
  await checkRealmAllows(session, await session.store.getRealm(user.realm), userid, 'webauthn');
  const data = tightenedCeremony(begun, begun.rpId, await webauthnSettings(session.store, session.hostname));
  if (!data.loopback && data.origins.length === 0) {
    return fail('no origin this challenge was made for is in webauthn.origin any more: start again with --begin');
  }
  let origins = data.origins;
  if (data.loopback) {
    if (served.loopbackOrigin === undefined || !isLoopbackOrigin(served.loopbackOrigin)) return fail('this challenge is answered on the loopback page only');
    origins = [served.loopbackOrigin];
  }
  // Made inside another site's frame: refused at sign-in (webauthn-assertion), so refused here too.
  const sentData = (answer as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON;
  const clientData = typeof sentData === 'string' ? parseClientData(decodeBase64(sentData, 'base64url') ?? Buffer.alloc(0)) : null;
  if (clientData?.crossOrigin === true) return fail("the security key's answer was refused: it was made inside another site's frame (crossOrigin)");
  const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response: answer as Parameters<typeof verifyRegistrationResponse>[0]['response'],
      expectedChallenge: data.challenge,
      expectedOrigin: [...origins],
      expectedRPID: data.rpId,
      requireUserVerification: data.userVerification === 'required',
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch (e) {
    // The library's own refusals say what was wrong; a TypeError or RangeError is its parser
    // tripping over bytes no authenticator writes (a truncated or endlessly nested CBOR object).
    // A SyntaxError is client data that is not JSON: its message would quote what was sent.
    const unreadable = e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError;
    return fail(`the security key's answer was refused: ${unreadable ? 'its attestation object or client data cannot be read (not what an authenticator writes)' : oneLine(e instanceof Error ? e.message : String(e))}`);
  }
  if (!verification.verified) return fail("the security key's answer was refused: not verified");
  const info = verification.registrationInfo;
  const key = coseToJwk(info.credential.publicKey);
  const algorithm = key?.algorithm;
  if (algorithm !== -7 && algorithm !== -257) return fail('the security key chose an algorithm tfactl does not accept (only ES256 and RS256)');
  // Attestation none signs nothing with the key: one that could never check a signature (a point
  // off the P-256 curve, say) would be stored and shown as working, and refuse every sign-in.
  const publicKey = assertionPublicKey(algorithm === -7 ? 'ES256' : 'RS256', key!.jwk as CredentialPublicKey);
  if (publicKey === null) {
    return fail(`the security key's answer was refused: its public key is not a usable ${algorithm === -7 ? 'ES256 (P-256)' : 'RS256'} key`);
  }
  // Older registrations (imported) may have 1024 bits; a new one has what authenticators make today.
  if (algorithm === -257 && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < NEW_RSA_MIN_BITS) {
    return fail(`the security key's answer was refused: its RS256 key has fewer than ${NEW_RSA_MIN_BITS} bits`);
  }
  // The id the browser reports is the one it will offer at sign-in: it must be the credential's,
  // and one WebAuthn allows (1 to 1023 bytes, §7.1 step 18).
  const credentialBytes = Buffer.from(info.credential.id, 'base64url');
  if (credentialBytes.length === 0 || credentialBytes.length > MAX_CREDENTIAL_ID_BYTES) {
    return fail(`the security key's answer was refused: its credential id is ${credentialBytes.length} bytes (1 to ${MAX_CREDENTIAL_ID_BYTES})`);
  }
  if ((answer as { id?: unknown }).id !== info.credential.id) {
    return fail("the security key's answer was refused: the id it reports is not its credential's");
  }
  const id = newFactorId(session);
  const transports = (info.credential.transports ?? []).filter((t) => typeof t === 'string');
  // WebAuthn §7.1: a credential id registered for another user is refused (a key that answers for
  // two accounts is a key someone else also holds, or one registered to the wrong person).
  const added = await session.store.transaction(async (tx) => {
    if (await tx.credentialHeldByOther(userid, info.credential.id)) return 'other' as const;
    const ok = await tx.insertCredentialFactor({
      id,
      userid,
      type: 'webauthn',
      description: data.description,
      enabled: true,
      created: session.now(),
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey),
      algorithm,
      rpId: data.rpId,
      counter: info.credential.counter,
      transports,
      data: null,
    });
    if (ok) await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'webauthn', id, rpId: data.rpId } }, tx);
    return ok;
  });
  if (added === 'other') return fail('this security key is already registered for another user', 'exists');
  if (!added) return fail(`this security key is already registered for ${userid}`, 'exists');
  const realm = await session.store.getRealm(user.realm);
  const warnings =
    realm && realm.enforce === 'totp'
      ? [`realm ${realm.name} enforces TOTP: sign-ins there ask for TOTP or a recovery key, not for this security key, until the realm enforces nothing`]
      : [];
  return { id, userid, description: data.description, credentialId: info.credential.id, rpId: data.rpId, counter: info.credential.counter, algorithm: algorithm === -7 ? 'ES256' : 'RS256', warnings };
}

/** A library's message as one line, cut at 200 characters: it may quote what the answer said (an origin of 40 KB). */
const oneLine = (text: string) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
};
