import { open, realmKeyContext, secretContext } from '../domain/secret-box.js';
import { counterValue, decryptToken, parseResponse, samePrivateId, signatureValid, signParams, type YubicoOtp } from '../domain/yubico.js';
import { StoreError } from '../errors.js';
import type { Store, YubikeyRecord, YubicoRealmConfig } from '../store/types.js';

/** Yubico's cloud, used when a realm names no validation server. */
export const DEFAULT_VALIDATION_URLS = ['https://api.yubico.com/wsapi/2.0/verify'];

/** What the key material of an offline YubiKey holds, sealed in the factor's secret. */
export interface OfflineKey {
  readonly aesKey: string;
  readonly privateId: string;
}

export { realmKeyContext };

export function yubicoKeyContext(userid: string, factorId: string): Buffer {
  return secretContext(userid, factorId, 'yubico');
}

export type OfflineCheck =
  | { readonly ok: true; readonly counter: number }
  | { readonly ok: false; readonly reason: string };

/** Decrypts and checks an OTP against a key's AES key and private id (counter checked by the caller's store write). */
export function checkOffline(key: OfflineKey, otp: YubicoOtp): OfflineCheck {
  const token = decryptToken(Buffer.from(key.aesKey, 'hex'), otp.token);
  if (!token) return { ok: false, reason: 'otp does not decrypt' };
  if (!samePrivateId(token.privateId, key.privateId)) return { ok: false, reason: 'private id mismatch' };
  return { ok: true, counter: counterValue(token) };
}

export function openOfflineKey(sealedKey: Buffer, storeKey: Buffer, userid: string, factorId: string): OfflineKey {
  const text = open(storeKey, sealedKey, yubicoKeyContext(userid, factorId));
  if (text === null) throw new StoreError(`the YubiKey secret of factor ${factorId} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
  return JSON.parse(text) as OfflineKey;
}

export type OnlineResult =
  | { readonly ok: true }
  /** The service answered and said no: counts as a failed attempt. */
  | { readonly ok: false; readonly rejected: true; readonly status: string }
  /** No trustworthy answer: the service is down, slow, misconfigured or its answers are forged. */
  | { readonly ok: false; readonly rejected: false; readonly reason: string };

// REPLAYED_REQUEST is not among them: a server that saw this request already (from another of
// the servers it syncs with) says nothing of the OTP, as Yubico's own client takes it.
const REJECTING = new Set(['BAD_OTP', 'REPLAYED_OTP', 'BAD_SIGNATURE']);

/** A validation server's answer is a few hundred bytes: one much larger is not read whole. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** The body of `response`, refused once it passes `max` bytes. */
async function boundedText(response: Response, max: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(`an answer larger than ${max / 1024} KiB`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
const FINAL_ERRORS = new Set(['NO_SUCH_CLIENT', 'OPERATION_NOT_ALLOWED', 'MISSING_PARAMETER']);

export interface OnlineRequest {
  readonly apiId: string;
  readonly apiKey: Buffer;
  readonly urls: readonly string[];
  readonly otp: string;
  /** 16 to 40 characters, fresh for each request. */
  readonly nonce: string;
  readonly timeoutMs: number;
}

/**
 * Validation protocol 2.0: asks every server at once and takes the first answer that is signed with
 * the API key and echoes this OTP and nonce. OK accepts; BAD_OTP, REPLAYED_OTP and BAD_SIGNATURE
 * reject; anything else (BACKEND_ERROR, REPLAYED_REQUEST, unsigned, forged or oversized answers,
 * timeouts, unreachable servers)
 * is only decisive if no server does better.
 */
export async function validateOnline(req: OnlineRequest): Promise<OnlineResult> {
  const params: Record<string, string> = { id: req.apiId, otp: req.otp, nonce: req.nonce };
  const query = new URLSearchParams({ ...params, h: signParams(params, req.apiKey) }).toString();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), req.timeoutMs);
  const failures: string[] = [];
  const ask = async (url: string): Promise<OnlineResult> => {
    const host = hostOf(url);
    let body: string;
    try {
      const response = await fetch(`${url}${url.includes('?') ? '&' : '?'}${query}`, { signal: controller.signal });
      body = await boundedText(response, MAX_ANSWER_BYTES);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (e) {
      const reason = controller.signal.aborted ? `${host}: no answer within ${req.timeoutMs / 1000} s` : `${host}: ${describeFetchError(e)}`;
      failures.push(reason);
      throw new Error(reason, { cause: e });
    }
    const fields = parseResponse(body);
    if (!signatureValid(fields, req.apiKey)) return reject(`${host}: answer not signed with the API key`);
    if (fields.otp !== req.otp || fields.nonce !== req.nonce) return reject(`${host}: answer is for another request (otp or nonce differ)`);
    const status = fields.status ?? '';
    if (status === 'OK') return { ok: true };
    if (REJECTING.has(status)) return { ok: false, rejected: true, status };
    if (FINAL_ERRORS.has(status)) return { ok: false, rejected: false, reason: `${host}: ${status}` };
    return reject(`${host}: ${status || 'no status'}`);
  };
  const reject = (reason: string): never => {
    failures.push(reason);
    throw new Error(reason);
  };
  try {
    return await Promise.any(req.urls.map(ask));
  } catch {
    return { ok: false, rejected: false, reason: failures.join('; ') };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

/** The realm's online validation settings with its API key opened. */
export async function onlineConfig(
  store: Store,
  realm: string,
  config: YubicoRealmConfig | null,
  storeKey: () => Promise<Buffer>,
): Promise<{ apiId: string; apiKey: Buffer; urls: readonly string[] } | null> {
  if (config?.mode !== 'online') return null;
  const sealed = await store.getRealmYubicoApiKey(realm);
  if (!sealed) return null;
  const text = open(await storeKey(), sealed, realmKeyContext(realm));
  if (text === null) throw new StoreError(`the YubiKey API key of realm ${realm} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
  return { apiId: config.apiId, apiKey: Buffer.from(text, 'base64'), urls: config.urls };
}

export type { YubikeyRecord };
