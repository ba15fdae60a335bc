import { parsePositiveInt } from '../domain/account.js';
import type { PasswordPolicy } from '../domain/password-policy.js';
import { checkText } from '../domain/text.js';
import { UsageError } from '../errors.js';
import type { LockoutLimits, PasswordLimits, Store } from '../store/types.js';
import { authorize } from './authz.js';
import type { Session } from './session.js';

/** The store settings people may change, with their defaults and how values are checked. */
interface SettingSpec {
  readonly description: string;
  defaultValue(hostname: string): string;
  parse(value: string): string;
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
};

export interface EffectiveSetting {
  readonly key: string;
  readonly value: string;
  readonly isDefault: boolean;
  readonly description: string;
}

/** Every known setting with its effective value. */
export async function readSettings(store: Store, hostname: string): Promise<EffectiveSetting[]> {
  const stored = await store.getSettings();
  return Object.entries(SETTINGS).map(([key, spec]) => {
    const value = stored.get(key);
    return { key, value: value ?? spec.defaultValue(hostname), isDefault: value === undefined, description: spec.description };
  });
}

async function settingValue(store: Store, key: string, hostname = ''): Promise<string> {
  const spec = SETTINGS[key];
  if (!spec) throw new Error(`unknown setting ${key}`);
  return (await store.getSettings()).get(key) ?? spec.defaultValue(hostname);
}

export async function passwordPolicy(store: Store): Promise<PasswordPolicy> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return { minLength: num('password.min-length'), maxLength: num('password.max-length') };
}

export async function lockoutLimits(store: Store): Promise<LockoutLimits> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return { totpFailures: num('lockout.totp-failures'), failures: num('lockout.failures'), lockSeconds: num('lockout.seconds') };
}

export async function passwordLimits(store: Store): Promise<PasswordLimits> {
  const settings = await readSettings(store, '');
  const num = (key: string) => Number(settings.find((s) => s.key === key)?.value);
  return {
    failures: num('lockout.password-failures'),
    windowSeconds: num('lockout.password-window-seconds'),
    banSeconds: num('lockout.password-ban-seconds'),
  };
}

export async function yubicoTimeoutSeconds(store: Store): Promise<number> {
  return Number(await settingValue(store, 'yubico.timeout-seconds'));
}

/** Whether new user names may mix scripts or hold characters confusable with ASCII. */
export async function allowConfusableNames(store: Store): Promise<boolean> {
  return (await settingValue(store, 'names.allow-confusable')) === 'true';
}

export function totpIssuer(store: Store, hostname: string): Promise<string> {
  return settingValue(store, 'totp.issuer', hostname);
}

/** Lists settings. Admins only. */
export async function listSettings(session: Session): Promise<EffectiveSetting[]> {
  await authorize(session, 'store.manage', 'settings.list');
  return readSettings(session.store, session.hostname);
}

/** Changes a setting. root@local only: every store-wide setting applies to root@local as well. */
export async function changeSetting(session: Session, key: string, value: string): Promise<EffectiveSetting> {
  const spec = SETTINGS[key];
  if (!spec) throw new UsageError(`unknown setting ${JSON.stringify(key)}: known are ${Object.keys(SETTINGS).join(', ')}`, 'invalid_setting');
  const parsed = spec.parse(value);
  await authorize(session, 'settings.change', 'settings.set', key);
  await session.store.transaction(async (tx) => {
    // Checked inside the transaction so two concurrent changes cannot leave min above max.
    if (key.startsWith('password.')) {
      const policy = await passwordPolicy(tx);
      const next = { ...policy, [key === 'password.min-length' ? 'minLength' : 'maxLength']: Number(parsed) };
      if (next.minLength > next.maxLength) throw new UsageError('password.min-length cannot exceed password.max-length', 'invalid_setting');
    }
    await tx.setSetting(key, parsed);
    await session.audit({ action: 'settings.set', target: null, outcome: 'ok', detail: { key, value: parsed } });
  });
  const all = await readSettings(session.store, session.hostname);
  return all.find((s) => s.key === key) as EffectiveSetting;
}
