import { join } from 'node:path';

export interface StoreLocationInput {
  readonly flag: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly home: string;
}

export const SYSTEM_STORE = '/var/lib/tfactl/tfactl.db';

/**
 * Where the store lives: `--db`, else `TFACTL_DB`, else the system store for uid 0, else
 * `$XDG_DATA_HOME/tfactl/tfactl.db` (`~/.local/share` when unset or not absolute, as the XDG spec says).
 */
export function resolveStorePath(input: StoreLocationInput): string {
  if (input.flag) return input.flag;
  if (input.env.TFACTL_DB) return input.env.TFACTL_DB;
  if (input.uid === 0) return SYSTEM_STORE;
  const xdg = input.env.XDG_DATA_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(input.home, '.local', 'share');
  return join(base, 'tfactl', 'tfactl.db');
}

/** The key file that encrypts the store's secrets: `TFACTL_KEY_FILE`, else beside the store. */
export function resolveKeyPath(storePath: string, env: Readonly<Record<string, string | undefined>>): string {
  if (env.TFACTL_KEY_FILE) return env.TFACTL_KEY_FILE;
  return `${storePath}.key`;
}
