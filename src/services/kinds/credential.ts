import { coseToJwk } from '../../domain/cose.js';
import { decodeBase64, type AssertionAlgorithm } from '../../domain/fido.js';
import { parseFido2AssertOutput, type Fido2Assertion, verifyFido2Assertion } from '../../domain/fido2-assert.js';
import { u2fAnswerKeyHandle, verifyU2fSignIn } from '../../domain/u2f.js';
import { verifyWebauthnAssertion } from '../../domain/webauthn-assertion.js';
import { TfaError } from '../../errors.js';
import type { JsonWebKey } from 'node:crypto';
import type { CredentialRecord } from '../../store/types.js';
import type { Answering, SignInKind, Verification } from './kind.js';

/**
 * What a sign-in challenge holds for security keys: the random challenge, the RP id the browser's
 * request is for and the origins its answer may come from, and for legacy U2F the appid and the
 * origin a raw U2F answer must name.
 */
export interface KeyChallenge {
  /** base64url of 32 random bytes. */
  readonly challenge: string;
  readonly rpId: string;
  readonly origins: readonly string[];
  readonly userVerification: 'preferred' | 'required';
  /** Null when the user has no U2F registration or no appid is configured. */
  readonly u2f: { readonly appId: string; readonly origin: string } | null;
  /**
   * Answered on the loopback page (RP id localhost): the page's origin, known only once it listens,
   * is added at the answer by the process that served it, never by what the answer says.
   */
  readonly loopback: boolean;
}

/** The effective RP id (U2F: appid) of a credential: its own, else the store's setting. */
export function credentialRpId(c: CredentialRecord, key: KeyChallenge): string | null {
  return c.rpId ?? (c.type === 'webauthn' ? key.rpId : (key.u2f?.appId ?? null));
}

/** A security key's answer as given: the JSON a browser or web app sends, or fido2-assert's lines. */
type KeyAnswer = { readonly form: 'json'; readonly value: unknown } | { readonly form: 'fido2-assert'; readonly assertion: Fido2Assertion } | { readonly form: 'unreadable' };

function readAnswer(text: string): KeyAnswer {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return { form: 'json', value: JSON.parse(trimmed) as unknown };
    } catch {
      return { form: 'unreadable' };
    }
  }
  try {
    return { form: 'fido2-assert', assertion: parseFido2AssertOutput(trimmed) };
  } catch (e) {
    if (e instanceof TfaError) return { form: 'unreadable' };
    throw e;
  }
}

/**
 * Which kind of security key an answer is from, by the credential it names (the store knows
 * which are U2F registrations): a raw U2F answer, a browser's answer naming a U2F key handle, or
 * fido2-assert's lines for an appid. Null when it is not a security key's answer at all.
 */
export function classifyKeyAnswer(text: string, credentials: readonly CredentialRecord[], key: KeyChallenge | null): 'webauthn' | 'u2f' | null {
  const answer = readAnswer(text);
  if (answer.form === 'unreadable') return text.trim().startsWith('{') || text.includes('\n') ? 'webauthn' : null;
  if (answer.form === 'fido2-assert') {
    const u2f = key && credentials.some((c) => c.type === 'u2f' && credentialRpId(c, key) === answer.assertion.rpId);
    return u2f ? 'u2f' : 'webauthn';
  }
  const handle = u2fAnswerKeyHandle(answer.value);
  const named = handle && credentials.find((c) => Buffer.from(c.credentialId, 'base64url').equals(handle));
  if (named) return named.type;
  const value = answer.value as { keyHandle?: unknown };
  return typeof value === 'object' && value !== null && 'keyHandle' in value ? 'u2f' : 'webauthn';
}

const counterDidNotGrow = 'signature counter did not grow (a cloned key, or the same answer twice)';

function advance(who: Answering, c: CredentialRecord, counter: number): Verification {
  return {
    ok: true,
    spend: async (tx) => ((await tx.advanceCredentialCounter(c.id, counter, who.deps.now())) ? { spent: true, factorId: c.id } : { spent: false, reason: counterDidNotGrow }),
  };
}

/** A WebAuthn credential's answer: a browser's AuthenticationResponseJSON, or fido2-assert's lines. */
export const webauthn: SignInKind = {
  kind: 'webauthn',
  countsOnTotpLock: false,
  liftsTotpLock: false,
  waitsOnNetwork: false,
  async verify(who, text) {
    const key = who.key;
    if (!key) return { ok: false, reason: 'no security key challenge' };
    const credentials = (await who.deps.store.getCredentials(who.user.userid)).filter((c) => c.type === 'webauthn');
    const answer = readAnswer(text);
    if (answer.form === 'unreadable') return { ok: false, reason: 'unreadable security key answer' };
    if (answer.form === 'fido2-assert') return verifyPaste(who, key, credentials, answer.assertion);
    const response = answer.value as { id?: unknown };
    const c = credentials.find((x) => x.credentialId === response.id);
    if (!c) return { ok: false, reason: 'unknown webauthn credential' };
    if (credentialRpId(c, key) !== key.rpId) return { ok: false, reason: `credential made for another RP id than ${key.rpId}` };
    const stored = webauthnKey(c);
    if (!stored) return { ok: false, reason: 'webauthn: the credential uses an algorithm tfactl cannot check' };
    const result = verifyWebauthnAssertion({
      credential: { id: Buffer.from(c.credentialId, 'base64url'), ...stored },
      rpId: key.rpId,
      origins: key.origins,
      challenge: decodeBase64(key.challenge, 'base64url') ?? Buffer.alloc(0),
      requireUserVerification: key.userVerification === 'required',
      answer: answer.value,
    });
    if (!result.valid) return { ok: false, reason: `webauthn: ${result.reason}` };
    return advance(who, c, result.counter);
  },
};

/** The checks' name of each COSE algorithm tfactl keeps. */
const ASSERTION_ALGORITHMS: Readonly<Record<number, AssertionAlgorithm>> = { [-7]: 'ES256', [-257]: 'RS256', [-8]: 'EdDSA' };

/** A WebAuthn credential's public key as the checks take it; null for an algorithm other than ES256, RS256 and EdDSA. */
function webauthnKey(c: CredentialRecord): { readonly algorithm: AssertionAlgorithm; readonly publicKey: JsonWebKey } | null {
  const parsed = coseToJwk(c.publicKey);
  const algorithm = parsed && Object.hasOwn(ASSERTION_ALGORITHMS, parsed.algorithm) ? ASSERTION_ALGORITHMS[parsed.algorithm] : undefined;
  return parsed && algorithm ? { algorithm, publicKey: parsed.jwk as JsonWebKey } : null;
}

/** Checks fido2-assert's lines against each credential made for the RP id they name. */
async function verifyPaste(who: Answering, key: KeyChallenge, credentials: readonly CredentialRecord[], assertion: Fido2Assertion): Promise<Verification> {
  const challenge = decodeBase64(key.challenge, 'base64url') ?? Buffer.alloc(0);
  let reason = `no credential made for ${assertion.rpId}`;
  for (const c of credentials) {
    const rpId = credentialRpId(c, key);
    if (rpId !== assertion.rpId) continue;
    const credential =
      c.type === 'u2f'
        ? ({ kind: 'u2f', appId: rpId, registration: { keyHandle: Buffer.from(c.credentialId, 'base64url'), publicKey: c.publicKey } } as const)
        : (() => {
            const stored = webauthnKey(c);
            return stored && ({ kind: 'webauthn', rpId, ...stored } as const);
          })();
    if (!credential) continue;
    const result = verifyFido2Assertion({ assertion, challenge, credential, requireUserVerification: key.userVerification === 'required' });
    if (result.valid) return advance(who, c, result.counter);
    reason = `fido2-assert: ${result.reason}`;
  }
  return { ok: false, reason };
}

/** A legacy U2F registration's answer: a raw U2F sign response, a browser's appid answer, or fido2-assert -u's lines. */
export const u2f: SignInKind = {
  kind: 'u2f',
  countsOnTotpLock: false,
  liftsTotpLock: false,
  waitsOnNetwork: false,
  async verify(who, text) {
    const key = who.key;
    if (!key?.u2f) return { ok: false, reason: 'no U2F appid configured' };
    const credentials = (await who.deps.store.getCredentials(who.user.userid)).filter((c) => c.type === 'u2f');
    const answer = readAnswer(text);
    if (answer.form === 'unreadable') return { ok: false, reason: 'unreadable security key answer' };
    if (answer.form === 'fido2-assert') return verifyPaste(who, key, credentials, answer.assertion);
    const handle = u2fAnswerKeyHandle(answer.value);
    const c = handle && credentials.find((x) => Buffer.from(x.credentialId, 'base64url').equals(handle));
    if (!c) return { ok: false, reason: 'unknown U2F key handle' };
    const appId = credentialRpId(c, key);
    if (appId === null) return { ok: false, reason: 'no U2F appid configured' };
    const result = verifyU2fSignIn({
      registration: { keyHandle: Buffer.from(c.credentialId, 'base64url'), publicKey: c.publicKey },
      appId,
      // A raw answer names the U2F origin; a browser's appid answer names the page it came from.
      u2fOrigin: key.u2f.origin,
      pageOrigins: key.origins,
      challenge: decodeBase64(key.challenge, 'base64url') ?? Buffer.alloc(0),
      answer: answer.value,
    });
    if (!result.valid) return { ok: false, reason: `u2f: ${result.reason}` };
    return advance(who, c, result.counter);
  },
};
