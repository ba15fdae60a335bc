import { nearest } from '../domain/near.js';
import type { PasswordPolicy } from '../domain/password-policy.js';
import { SETTINGS } from '../domain/settings.js';
import { parseOriginList } from '../domain/webauthn-settings.js';
import { quote } from '../domain/userid.js';
import { RefusedError, UsageError } from '../errors.js';
import type { LockoutLimits, PasswordLimits, SettingStore } from '../store/types.js';
import { authorize } from './authz.js';
import type { Session } from './session.js';

export { SETTINGS };

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

/** How many days of audit entries to keep (audit.keep-days); null: all of them. */
export async function auditKeepDays(store: SettingStore): Promise<number | null> {
  const value = await settingValue(store, 'audit.keep-days');
  return value === '' ? null : Number(value);
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
  await authorize(session, 'store.read', 'settings.list');
  return readSettings(session.store, session.hostname);
}

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
 * The shortest password NIST SP 800-63B lets a verifier accept for a password used with a second
 * factor (revision 4 asks 15 of one used alone), and password.min-length's default.
 */
const NIST_MIN_LENGTH = 8;

/**
 * Changes a setting (root@local), or with `value` null puts it back to its default (`settings
 * unset`: the stored value is forgotten, so a default that follows the host, such as totp.issuer's,
 * follows it again). Either way the same rules hold: changing `webauthn.rp-id` or `u2f.appid` while
 * credentials were made under the current value needs `force` (they stop answering the store's
 * default ceremony; forced, those that followed the setting keep the value they were made under),
 * and password.min-length never exceeds password.max-length.
 */
export async function changeSetting(session: Session, key: string, value: string | null, { force = false }: { readonly force?: boolean } = {}): Promise<ChangedSetting> {
  // Own keys only: `__proto__` or `toString` typed as a setting are unknown ones, not Object's.
  const spec = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
  if (!spec) {
    const near = nearest(key, Object.keys(SETTINGS));
    throw new UsageError(`unknown setting ${quote(key)}${near === undefined ? `: known are ${Object.keys(SETTINGS).join(', ')}` : ` (did you mean ${near}?)`}`, 'invalid_setting');
  }
  const parsed = value === null ? spec.defaultValue(session.hostname) : spec.parse(value, key);
  const action = value === null ? 'settings.unset' : 'settings.set';
  await authorize(session, 'settings.change', action, key);
  const warnings: string[] = [];
  await session.store.transaction(async (tx) => {
    // Checked inside the transaction so two concurrent changes cannot leave min above max.
    if (key.startsWith('password.')) {
      const policy = await passwordPolicy(tx);
      const next = { ...policy, [key === 'password.min-length' ? 'minLength' : 'maxLength']: Number(parsed) };
      if (next.minLength > next.maxLength) throw new UsageError('password.min-length cannot exceed password.max-length', 'invalid_setting');
      if (key === 'password.min-length' && next.minLength < NIST_MIN_LENGTH) {
        warnings.push(`new passwords may now be shorter than ${NIST_MIN_LENGTH} characters, the least NIST SP 800-63B allows even beside a second factor (tfactl's default)`);
      }
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
    if (value === null) await tx.deleteSetting(key);
    else await tx.setSetting(key, parsed);
    await session.audit({ action, target: null, outcome: 'ok', detail: { key, value: parsed, ...(stranded > 0 ? { stranded } : {}) } }, tx);
  });
  const all = await readSettings(session.store, session.hostname);
  return { setting: all.find((s) => s.key === key) as EffectiveSetting, warnings };
}
