import { StoreError } from '../errors.js';

/**
 * /etc/tfactl/config: where this host's store is, so that a PostgreSQL connection string with its
 * password need not be in every environment (or in a PAM file). Lines `setting = value`; blank
 * lines and lines starting with # are ignored. Settings: `db` (a store file or postgres://...),
 * `key-file`. Pure: the file is read by src/config-file.ts.
 */
export interface StoreConfig {
  /** Where the file was read from, for messages. */
  readonly path: string;
  readonly db: string | null;
  readonly keyFile: string | null;
}

export const CONFIG_FILE = '/etc/tfactl/config';

const SETTINGS = ['db', 'key-file'] as const;

/** Parses the config file's text; a line it cannot read is a StoreError naming the line, never repeating a value. */
export function parseStoreConfig(text: string, path: string): StoreConfig {
  const values = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const at = `${path} line ${i + 1}`;
    const eq = line.indexOf('=');
    if (eq < 0) throw new StoreError(`${at}: not a setting: write setting = value`, 'config_invalid');
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!(SETTINGS as readonly string[]).includes(key)) throw new StoreError(`${at}: not a setting tfactl knows (it knows ${SETTINGS.join(', ')})`, 'config_invalid');
    if (value === '') throw new StoreError(`${at}: ${key} has no value`, 'config_invalid');
    if (values.has(key)) throw new StoreError(`${at}: ${key} is set twice`, 'config_invalid');
    if (key === 'key-file' && !value.startsWith('/')) throw new StoreError(`${at}: key-file must be an absolute path`, 'config_invalid');
    // Read from wherever a command runs (pam_exec, systemd, cron): a relative path would name a
    // store of each directory's own.
    if (key === 'db' && !value.startsWith('/') && !/^postgres(?:ql)?:\/\//i.test(value)) {
      throw new StoreError(`${at}: db must be an absolute path or a postgres:// connection string`, 'config_invalid');
    }
    if (/\s#/.test(value)) throw new StoreError(`${at}: ${key} holds a # after a blank: a comment goes on a line of its own, starting with #`, 'config_invalid');
    values.set(key, value);
  });
  return { path, db: values.get('db') ?? null, keyFile: values.get('key-file') ?? null };
}
