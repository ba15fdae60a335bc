import { parsePositiveInt } from '../domain/account.js';
import type { PasswordPolicy } from '../domain/password-policy.js';
import { UsageError } from '../errors.js';
import type { LockoutLimits, Store } from '../store/types.js';
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
      if (v.length === 0 || v.length > 64 || /[\p{Cc}:]/u.test(v)) {
        throw new UsageError('invalid issuer: 1 to 64 characters, no colon or control characters', 'invalid_setting');
      }
      return v;
    },
  },
  'lockout.totp-failures': { description: 'consecutive TOTP failures that lock TOTP', defaultValue: () => '8', parse: positive('count', 1000) },
  'lockout.failures': {
    description: 'consecutive second-factor failures that lock every factor',
    defaultValue: () => '100',
    parse: positive('count', 100_000),
  },
  'lockout.seconds': { description: 'how long that lock lasts', defaultValue: () => '3600', parse: positive('seconds', 31_536_000) },
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

export async function yubicoTimeoutSeconds(store: Store): Promise<number> {
  return Number(await settingValue(store, 'yubico.timeout-seconds'));
}

export function totpIssuer(store: Store, hostname: string): Promise<string> {
  return settingValue(store, 'totp.issuer', hostname);
}

/** Lists settings. Admins only. */
export async function listSettings(session: Session): Promise<EffectiveSetting[]> {
  await authorize(session, 'store.manage', 'settings.list');
  return readSettings(session.store, session.ctx.hostname);
}

/** Changes a setting. Root and admins only. */
export async function changeSetting(session: Session, key: string, value: string): Promise<EffectiveSetting> {
  const spec = SETTINGS[key];
  if (!spec) throw new UsageError(`unknown setting ${JSON.stringify(key)}: known are ${Object.keys(SETTINGS).join(', ')}`, 'invalid_setting');
  const parsed = spec.parse(value);
  await authorize(session, 'store.manage', 'settings.set');
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
  const all = await readSettings(session.store, session.ctx.hostname);
  return all.find((s) => s.key === key) as EffectiveSetting;
}
