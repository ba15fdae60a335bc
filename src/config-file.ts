import { accessSync, constants, statSync } from 'node:fs';
import { CONFIG_FILE, parseStoreConfig, type StoreConfig } from './domain/store-config.js';
import { StoreError } from './errors.js';
import { readInputFile } from './files.js';
import { errnoText } from './domain/errno.js';

const MAX_BYTES = 64 * 1024;
const loaded = new Map<string, StoreConfig | null>();

/**
 * This host's store config ($TFACTL_CONFIG, else /etc/tfactl/config), read once a process: null
 * when there is none, or when this OS user may not read it (then it is not theirs: their own
 * store, or the service, as without it). Refused (exit 6): a file someone other than root or this
 * user owns, and one its group or others may read or write (it holds the connection string's
 * password and names the store everyone here uses); read as any input file is (files.ts: a FIFO
 * or device is refused, never waited on).
 */
export function loadStoreConfig(env: Readonly<Record<string, string | undefined>>, uid: number): StoreConfig | null {
  const path = env.TFACTL_CONFIG || CONFIG_FILE;
  if (loaded.has(path)) return loaded.get(path)!;
  let owner: number;
  try {
    owner = statSync(path).uid;
    accessSync(path, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'ENOTDIR') throw new StoreError(`cannot read ${path}: ${errnoText(e)}`, 'config_invalid');
    loaded.set(path, null);
    return null;
  }
  if (owner !== 0 && owner !== uid) throw new StoreError(`${path} belongs to another user (uid ${owner}): it must be root's`, 'config_invalid');
  const text = readInputFile(path, { name: 'the config file', maxBytes: MAX_BYTES, private: true, fail: (message) => new StoreError(message, 'config_invalid') });
  const config = parseStoreConfig(text.toString('utf8'), path);
  loaded.set(path, config);
  return config;
}
