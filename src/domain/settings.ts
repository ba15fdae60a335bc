import { parsePositiveInt } from './account.js';
import { parseIssuer } from './totp-params.js';
import { formatOriginList, parseAppId, parseOrigin, parseOriginList, parseRpId, parseRpName } from './webauthn-settings.js';
import { UsageError } from '../errors.js';

/** The store settings people may change, with their defaults and how values are checked. */
export interface SettingSpec {
  readonly description: string;
  defaultValue(hostname: string): string;
  /** The value as stored, or a UsageError (invalid_setting) naming the setting (`key`). */
  parse(value: string, key: string): string;
  /**
   * The value an import from Proxmox made before tfactl had this setting (the `proxmox.webauthn`
   * and `proxmox.u2f` settings hold tfa.cfg's objects as they were): read while the setting itself
   * was never set, so such stores keep their RP id and appid.
   */
  fromProxmox?(stored: ReadonlyMap<string, string>): string | undefined;
}

/** `value` unless it is empty: an empty value of these settings means "not configured". */
const emptyOr = (parse: (v: string, key: string) => string) => (v: string, key: string) => (v.trim() === '' ? '' : parse(v, key));

/** A field of the JSON object an older import stored under `key`, if it is a string a setting accepts. */
function proxmoxField(key: string, field: string, parse: (v: string) => string) {
  return (stored: ReadonlyMap<string, string>): string | undefined => {
    try {
      const value = (JSON.parse(stored.get(key) ?? 'null') as Record<string, unknown> | null)?.[field];
      return typeof value === 'string' ? parse(value) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** A whole number from 1 to `max`; refused naming the setting: `invalid lockout.seconds "0": expected ...`. */
const positive = (max: number) => (v: string, key: string) => {
  try {
    return String(parsePositiveInt(v, key, max));
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(e.message, 'invalid_setting') : e;
  }
};

export const SETTINGS: Readonly<Record<string, SettingSpec>> = {
  'password.min-length': { description: 'shortest password accepted', defaultValue: () => '8', parse: positive(256) },
  'password.max-length': { description: 'longest password accepted', defaultValue: () => '256', parse: positive(4096) },
  'totp.issuer': {
    description: 'issuer shown in authenticator apps for new TOTP factors',
    defaultValue: (hostname) => `tfactl@${hostname}`,
    parse: (v) => parseIssuer(v, 'invalid_setting'),
  },
  'names.allow-confusable': {
    description: 'allow new user names that mix scripts or hold characters that look like ASCII ones (such as a Cyrillic or Greek o)',
    defaultValue: () => 'false',
    parse: (v) => {
      const value = v.toLowerCase();
      if (['true', 'yes', '1'].includes(value)) return 'true';
      if (['false', 'no', '0'].includes(value)) return 'false';
      throw new UsageError('invalid names.allow-confusable: expected true or false (or yes, no, 1, 0)', 'invalid_setting');
    },
  },
  'session.minutes': {
    description: 'how long a session kept by login --session lasts',
    defaultValue: () => '120',
    parse: positive(10_080),
  },
  'lockout.totp-failures': { description: 'consecutive TOTP failures that lock TOTP', defaultValue: () => '8', parse: positive(1000) },
  'lockout.failures': {
    description: 'consecutive second-factor failures that lock every factor',
    defaultValue: () => '100',
    parse: positive(100_000),
  },
  'lockout.seconds': { description: 'how long that lock lasts', defaultValue: () => '3600', parse: positive(31_536_000) },
  // Five tries forgive a fumbled password or two; a guesser gets at most five per window and ban
  // (about 500 a day instead of unlimited), far below NIST SP 800-63B's ceiling of 100 in a row.
  'lockout.password-failures': {
    description: 'failed password sign-ins of one user id within the window that ban its password sign-ins',
    defaultValue: () => '5',
    parse: positive(1000),
  },
  'lockout.password-window-seconds': {
    description: 'the window in which those failures are counted',
    defaultValue: () => '600',
    parse: positive(86_400),
  },
  'lockout.password-ban-seconds': {
    description: 'how long such a ban lasts (tfa unlock lifts it)',
    defaultValue: () => '900',
    parse: positive(31_536_000),
  },
  'audit.keep-days': {
    description: 'days of audit entries kept: tfactl serve removes older ones every hour, as audit prune does without --before or --keep-days; empty: all are kept',
    defaultValue: () => '',
    parse: emptyOr(positive(36_500)),
  },
  'yubico.timeout-seconds': {
    description: 'how long to wait for YubiKey validation servers',
    defaultValue: () => '5',
    parse: positive(60),
  },
  // Every WebAuthn credential is bound to the RP id it was made under; `localhost` is what the
  // loopback enrolment page can use on any machine.
  'webauthn.rp-id': {
    description: 'WebAuthn relying party id: the domain name (or localhost) new credentials are bound to',
    defaultValue: () => 'localhost',
    parse: (v) => parseRpId(v),
    fromProxmox: proxmoxField('proxmox.webauthn', 'id', (v) => parseRpId(v)),
  },
  'webauthn.rp-name': {
    description: 'WebAuthn relying party name that browsers and authenticators show',
    defaultValue: (hostname) => `tfactl@${hostname}`,
    parse: (v) => parseRpName(v),
    fromProxmox: proxmoxField('proxmox.webauthn', 'rp', (v) => parseRpName(v)),
  },
  'webauthn.origin': {
    description: 'origins (https://host[:port], separated by spaces) WebAuthn answers may come from besides the loopback page; empty: none',
    defaultValue: () => '',
    parse: (v) => formatOriginList(parseOriginList(v)),
    fromProxmox: proxmoxField('proxmox.webauthn', 'origin', (v) => formatOriginList(parseOriginList(v))),
  },
  // Preferred, as Proxmox asks: a key without a PIN or biometric still works; `required` refuses it.
  'webauthn.user-verification': {
    description: 'whether WebAuthn sign-ins and enrolments need user verification (a PIN or biometric): preferred or required',
    defaultValue: () => 'preferred',
    parse: (v) => {
      if (v !== 'preferred' && v !== 'required') throw new UsageError('invalid webauthn.user-verification: expected preferred or required', 'invalid_setting');
      return v;
    },
  },
  'u2f.appid': {
    description: 'U2F appid legacy U2F registrations were made under, byte for byte; empty: U2F is not configured',
    defaultValue: () => '',
    parse: emptyOr((v) => parseAppId(v)),
    fromProxmox: proxmoxField('proxmox.u2f', 'appid', (v) => parseAppId(v)),
  },
  'u2f.origin': {
    description: "origin U2F answers must come from; empty: the appid's origin",
    defaultValue: () => '',
    parse: emptyOr((v) => parseOrigin(v, 'U2F origin')),
    fromProxmox: proxmoxField('proxmox.u2f', 'origin', (v) => parseOrigin(v, 'U2F origin')),
  },
};

/**
 * Settings the store keeps besides those of SETTINGS, which `settings set` never takes: the key
 * file's fingerprint, and what Proxmox's tfa.cfg said of WebAuthn and U2F (import proxmox).
 */
export const STORE_KEPT_SETTINGS = ['key.fingerprint', 'proxmox.webauthn', 'proxmox.u2f'] as const;

/**
 * Why a stored setting is one tfactl would never have written (a backup edited by hand:
 * `lockout.failures` at -5 locks every factor at the first wrong code): a value `settings set`
 * refuses, or a key that is neither a setting nor one of STORE_KEPT_SETTINGS. Null when it is fine.
 */

export function storedSettingProblem(key: string, value: unknown): string | null {
  const spec = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
  if (spec === undefined) return (STORE_KEPT_SETTINGS as readonly string[]).includes(key) ? null : 'tfactl has no such setting';
  if (typeof value !== 'string') return 'it is not text';
  try {
    spec.parse(value, key);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
