import { parseTotpParams } from '../../domain/totp-params.js';
import { parseRealmName } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { setRealmEnforcement, type YubicoEnforcement } from '../../services/realms.js';
import { DEFAULT_VALIDATION_URLS } from '../../services/yubico.js';
import { openSession } from '../../services/session.js';
import type { EnforceType } from '../../store/types.js';
import { arg, boolOpt, stringOpt } from '../options.js';
import { realmFields } from '../render.js';

/** Reads --api-id/--api-key/--url or --offline, which only go with `yubico`. */
function yubicoEnforcement(inv: Invocation, type: EnforceType): YubicoEnforcement | null {
  const apiId = stringOpt(inv, 'apiId');
  const apiKey = stringOpt(inv, 'apiKey');
  const urls = (inv.opts.url as string[] | undefined) ?? [];
  const offline = boolOpt(inv, 'offline') === true;
  const given = apiId !== undefined || apiKey !== undefined || urls.length > 0 || offline;
  if (type !== 'yubico') {
    if (given) throw new UsageError('--api-id, --api-key, --url and --offline only apply to yubico enforcement');
    return null;
  }
  if (offline) {
    if (apiId !== undefined || apiKey !== undefined || urls.length > 0) throw new UsageError('--offline does not take --api-id, --api-key or --url');
    return { mode: 'offline' };
  }
  if (apiId === undefined || apiKey === undefined) {
    throw new UsageError('yubico enforcement needs --api-id and --api-key of a validation service, or --offline');
  }
  if (!/^[0-9A-Za-z._-]{1,64}$/.test(apiId)) throw new UsageError('invalid --api-id: a client id such as 12345');
  const key = Buffer.from(apiKey, 'base64');
  if (key.length < 16 || key.toString('base64').replace(/=+$/, '') !== apiKey.replace(/=+$/, '')) {
    throw new UsageError('invalid --api-key: expected the base64 key the validation service issued');
  }
  for (const url of urls) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
      throw new UsageError(`invalid --url ${JSON.stringify(url)}: expected an http(s) URL of a /wsapi/2.0/verify endpoint`);
    }
  }
  return { mode: 'online', apiId, apiKey, urls: urls.length > 0 ? urls : DEFAULT_VALIDATION_URLS };
}

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const type = arg(inv, 1) as EnforceType;
  const totpInput = { digits: stringOpt(inv, 'digits'), period: stringOpt(inv, 'step'), algorithm: stringOpt(inv, 'algorithm') };
  const given = Object.entries(totpInput).filter(([, v]) => v !== undefined);
  if (type !== 'totp' && given.length > 0) {
    throw new UsageError('--digits, --step and --algorithm only apply to totp enforcement');
  }
  const totp = type === 'totp' ? parseTotpParams(totpInput) : null;
  const yubico = yubicoEnforcement(inv, type);
  const session = await openSession(inv);
  const { realm, warnings } = await setRealmEnforcement(session, name, type, totp, yubico);
  for (const w of warnings) inv.out.warn(w);
  inv.out.result(realm, (r, style) => `${style.green('realm')} ${r.name} now enforces ${r.enforce}\n${realmFields(r, style)}`);
}
