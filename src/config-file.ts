import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CONFIG_FILE, parseStoreConfig, type StoreConfig } from './domain/store-config.js';
import { StoreError } from './errors.js';

const MAX_BYTES = 64 * 1024;
const loaded = new Map<string, StoreConfig | null>();

/**
 * This host's store config ($TFACTL_CONFIG, else /etc/tfactl/config), read once a process: null
 * when there is none, or when this OS user may not read it (then it is not theirs: their own
 * store, or the service, as without it). Refused (exit 6): a file someone other than root or this
 * user owns, or that its group or others may write (it names the store everyone here uses).
 */
export function loadStoreConfig(env: Readonly<Record<string, string | undefined>>, uid: number): StoreConfig | null {
  const path = env.TFACTL_CONFIG || CONFIG_FILE;
  if (loaded.has(path)) return loaded.get(path)!;
  let config: StoreConfig;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') {
      loaded.set(path, null);
      return null;
    }
    throw new StoreError(`cannot read ${path}: ${code ?? String(e)}`, 'config_invalid');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new StoreError(`${path} is not a regular file`, 'config_invalid');
    if (st.uid !== 0 && st.uid !== uid) throw new StoreError(`${path} belongs to another user (uid ${st.uid}): it must be root's`, 'config_invalid');
    if ((st.mode & 0o022) !== 0) throw new StoreError(`${path} may be written by its group or others: chmod go-w ${path}`, 'config_invalid');
    if (st.size > MAX_BYTES) throw new StoreError(`${path} is over ${MAX_BYTES} bytes`, 'config_invalid');
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    config = parseStoreConfig(buf.subarray(0, got).toString('utf8'), path);
  } finally {
    closeSync(fd);
  }
  loaded.set(path, config);
  return config;
}
