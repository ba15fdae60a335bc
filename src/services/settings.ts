import { parsePositiveInt } from '../domain/account.js';
import type { PasswordPolicy } from '../domain/password-policy.js';
import { checkText } from '../domain/text.js';
import { formatOriginList, parseAppId, parseOrigin, parseOriginList, parseRpId, parseRpName } from '../domain/webauthn-settings.js';
import { RefusedError, UsageError } from '../errors.js';
import type { LockoutLimits, PasswordLimits, SettingStore } from '../store/types.js';
import { authorize } from './authz.js';
import type { Session } from './session.js';

/** The store settings people may change, with their defaults and how values are checked. */
interface SettingSpec {
  readonly description: string;
  defaultValue(hostname: string): string;
  parse(value: string): string;
  /**
   * The value an import from Proxmox made before tfactl had this setting (the `proxmox.webauthn`
   * and `proxmox.u2f` settings hold tfa.cfg's objects as they were): read while the setting itself
   * was never set, so such stores keep their RP id and appid.
   */
  fromProxmox?(stored: ReadonlyMap<string, string>): string | undefined;
}

/** `value` unless it is empty: an empty value of these settings means "not configured". */
const emptyOr = (parse: (v: string) => string) => (v: string) => (v.trim() === '' ? '' : parse(v));

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

const positive = (what: string, max: number) => (v: string) => String(parsePositiveInt(v, what, max));

export const SETTINGS: Readonly<Record<string, SettingSpec>> = {
  'password.min-length': { description: 'shortest password accepted', defaultValue: () => '8', parse: positive('length', 256) },
  'password.max-length': { description: 'longest password accepted', defaultValue: () => '256', parse: positive('length', 4096) },
  'totp.issuer': {
    description: 'issuer shown in authenticator apps for new TOTP factors',
    defaultValue: (hostname) => `tfactl@${hostname}`,
    parse: (v) => {
      checkText(v, 'issuer', 64, 'invalid_setting');
      if (v.length === 0 || v.includes(':')) throw new UsageError('invalid issuer: 1 to 64 characters, no colon or control characters', 'invalid_setting');
      return v;
    },
  },
  'names.allow-confusable': {
    description: 'allow new user names that mix scripts or hold characters that look like ASCII ones (such as a Cyrillic or Greek o)',
    defaultValue: () => 'false',
    parse: (v) => {
      const value = v.toLowerCase();
      if (['true', 'yes', '1'].includes(value)) return 'true';
      if (['false', 'no', '0'].includes(value)) return 'false';
      throw new UsageError('invalid names.allow-confusable: expected true or false', 'invalid_setting');
    },
  },
  'session.minutes': {
    description: 'how long a session kept by login --session lasts',
    defaultValue: () => '120',
    parse: positive('minutes', 10_080),
  },
  'lockout.totp-failures': { description: 'consecutive TOTP failures that lock TOTP', defaultValue: () => '8', parse: positive('count', 1000) },
  'lockout.failures': {
    description: 'consecutive second-factor failures that lock every factor',
    defaultValue: () => '100',
    parse: positive('count', 100_000),
  },
  'lockout.seconds': { description: 'how long that lock lasts', defaultValue: () => '3600', parse: positive('seconds', 31_536_000) },
  // Five tries forgive a fumbled password or two; a guesser gets at most five per window and ban
  // (about 500 a day instead of unlimited), far below NIST SP 800-63B's ceiling of 100 in a row.
  'lockout.password-failures': {
    description: 'failed password sign-ins of one user id within the window that ban its password sign-ins',
    defaultValue: () => '5',
    parse: positive('count', 1000),
  },
  'lockout.password-window-seconds': {
    description: 'the window in which those failures are counted',
    defaultValue: () => '600',
    parse: positive('seconds', 86_400),
  },
  'lockout.password-ban-seconds': {
    description: 'how long such a ban lasts (tfa unlock lifts it)',
    defaultValue: () => '900',
    parse: positive('seconds', 31_536_000),
  },
  'yubico.timeout-seconds': {
    description: 'how long to wait for YubiKey validation servers',
    defaultValue: () => '5',
    parse: positive('seconds', 60),
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

export interface EffectiveSetting {
  readonly key: string;
  readonly value: string;
  readonly isDefault: boolean;
  readonly description: string;
}

/** Every known setting with its effective value. */
export async function readSettings(store: SettingStore, hostname: string): Promise<EffectiveSetting[]> {
  const stored = await store.getSettings();
  return Object.entries(SETTINGS).map(([key, spec]) => {
    const value = stored.get(key) ?? spec.fromProxmox?.(stored);
    return { key, value: value ?? spec.defaultValue(hostname), isDefault: value === undefined, description: spec.description };
  });
}

async function settingValue(store: SettingStore, key: string, hostname = ''): Promise<string> {
  const spec = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
  if (!spec) throw new Error(`unknown setting ${key}`);
  const stored = await store.getSettings();
  return stored.get(key) ?? spec.fromProxmox?.(stored) ?? spec.defaultValue(hostname);
}

export async function passwordPolicy(store: SettingStore): Promise<PasswordPolicy> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return { minLength: num('password.min-length'), maxLength: num('password.max-length') };
}

export async function lockoutLimits(store: SettingStore): Promise<LockoutLimits> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return { totpFailures: num('lockout.totp-failures'), failures: num('lockout.failures'), lockSeconds: num('lockout.seconds') };
}

export async function passwordLimits(store: SettingStore): Promise<PasswordLimits> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return {
    failures: num('lockout.password-failures'),
    windowSeconds: num('lockout.password-window-seconds'),
    banSeconds: num('lockout.password-ban-seconds'),
  };
}

/** How long a kept session lasts, in seconds. */
export async function sessionSeconds(store: SettingStore): Promise<number> {
  return Number(await settingValue(store, 'session.minutes')) * 60;
}

export async function yubicoTimeoutSeconds(store: SettingStore): Promise<number> {
  return Number(await settingValue(store, 'yubico.timeout-seconds'));
}

/** Whether new user names may mix scripts or hold characters confusable with ASCII. */
export async function allowConfusableNames(store: SettingStore): Promise<boolean> {
  return (await settingValue(store, 'names.allow-confusable')) === 'true';
}

export function totpIssuer(store: SettingStore, hostname: string): Promise<string> {
  return settingValue(store, 'totp.issuer', hostname);
}

/** The relying party WebAuthn ceremonies use, and the origins (besides the loopback page's own) answers may come from. */
export interface WebauthnSettings {
  readonly rpId: string;
  readonly rpName: string;
  /** Serialised origins (`https://host[:port]`); empty when none is configured. */
  readonly origins: readonly string[];
  readonly userVerification: 'preferred' | 'required';
}

export async function webauthnSettings(store: SettingStore, hostname: string): Promise<WebauthnSettings> {
  return {
    rpId: await settingValue(store, 'webauthn.rp-id', hostname),
    rpName: await settingValue(store, 'webauthn.rp-name', hostname),
    origins: parseOriginList(await settingValue(store, 'webauthn.origin', hostname)),
    userVerification: (await settingValue(store, 'webauthn.user-verification')) === 'required' ? 'required' : 'preferred',
  };
}

/** Legacy U2F: null when no appid is configured (U2F registrations then cannot sign in). */
export interface U2fSettings {
  /** The appid, byte for byte as the registrations were made under. */
  readonly appId: string;
  /** The origin client data must name: `u2f.origin`, else the appid's origin. */
  readonly origin: string;
}

export async function u2fSettings(store: SettingStore): Promise<U2fSettings | null> {
  const appId = await settingValue(store, 'u2f.appid');
  if (appId === '') return null;
  const origin = await settingValue(store, 'u2f.origin');
  return { appId, origin: origin === '' ? new URL(appId).origin : origin };
}

/** Lists settings. Admins only. */
export async function listSettings(session: Session): Promise<EffectiveSetting[]> {
  await authorize(session, 'store.manage', 'settings.list');
  return readSettings(session.store, session.hostname);
}

/** Changes a setting. root@local only: every store-wide setting applies to root@local as well. */
/** The settings that name the RP id (U2F: appid) stored credentials answer for, by credential type. */
const CREDENTIAL_SCOPES: Readonly<Record<string, { readonly type: 'webauthn' | 'u2f'; readonly noun: string }>> = {
  'webauthn.rp-id': { type: 'webauthn', noun: 'RP id' },
  'u2f.appid': { type: 'u2f', noun: 'appid' },
};

export interface ChangedSetting {
  readonly setting: EffectiveSetting;
  readonly warnings: readonly string[];
}

/**
 * Changes a setting (root@local). Changing `webauthn.rp-id` or `u2f.appid` while credentials were
 * made under the current value needs `force`: they stop answering the store's default ceremony.
 * Forced, the credentials that followed the setting keep the value they were made under.
 */
export async function changeSetting(session: Session, key: string, value: string, { force = false }: { readonly force?: boolean } = {}): Promise<ChangedSetting> {
  // Own keys only: `__proto__` or `toString` typed as a setting are unknown ones, not Object's.
  const spec = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
  if (!spec) throw new UsageError(`unknown setting ${JSON.stringify(key)}: known are ${Object.keys(SETTINGS).join(', ')}`, 'invalid_setting');
  const parsed = spec.parse(value);
  await authorize(session, 'settings.change', 'settings.set', key);
  const warnings: string[] = [];
  await session.store.transaction(async (tx) => {
    // Checked inside the transaction so two concurrent changes cannot leave min above max.
    if (key.startsWith('password.')) {
      const policy = await passwordPolicy(tx);
      const next = { ...policy, [key === 'password.min-length' ? 'minLength' : 'maxLength']: Number(parsed) };
      if (next.minLength > next.maxLength) throw new UsageError('password.min-length cannot exceed password.max-length', 'invalid_setting');
    }
    const scope = CREDENTIAL_SCOPES[key];
    let stranded = 0;
    if (scope) {
      const old = await settingValue(tx, key, session.hostname);
      if (old !== '' && old !== parsed) {
        stranded = (await tx.countCredentials(scope.type, old)) + (await tx.countCredentials(scope.type, null));
        if (stranded > 0) {
          const keys = `${stranded} ${scope.type === 'u2f' ? 'U2F registration' : 'security key'}${stranded === 1 ? '' : 's'}`;
          const what = `${keys} made under ${scope.noun} ${old} stop${stranded === 1 ? 's' : ''} working for sign-ins under ${parsed === '' ? 'no ' + scope.noun : `${scope.noun} ${parsed}`}`;
          if (!force) throw new RefusedError(`${what}: give --force to change ${key} anyway`, 'credentials_in_use');
          await tx.pinCredentialRpIds(scope.type, old);
          warnings.push(`${what} (a web app may still ask for ${scope.noun} ${old} with login --begin --rp-id)`);
        }
      }
    }
    await tx.setSetting(key, parsed);
    await session.audit({ action: 'settings.set', target: null, outcome: 'ok', detail: { key, value: parsed, ...(stranded > 0 ? { stranded } : {}) } }, tx);
  });
  const all = await readSettings(session.store, session.hostname);
  return { setting: all.find((s) => s.key === key) as EffectiveSetting, warnings };
}
