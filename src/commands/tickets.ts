import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { makePrivateDirectories } from '../files.js';
import { join, resolve } from 'node:path';
import type { Invocation } from '../invocation.js';

/**
 * Session ticket files: `$XDG_RUNTIME_DIR/tfactl/STORE-USERID`, mode 0600 in a 0700 directory,
 * each holding one ticket's secret. STORE is the start of the SHA-256 of the store file's absolute
 * path, so a ticket is offered only to the store that issued it (which also checks it: the
 * session is a row of that store). No runtime directory, no sessions.
 */

/** The directory of this user's tickets, or null when there is no $XDG_RUNTIME_DIR. */
export function ticketDir(inv: Invocation): string | null {
  const runtime = inv.ctx.env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'tfactl') : null;
}

const storePrefix = (storePath: string) => `${createHash('sha256').update(resolve(storePath)).digest('hex').slice(0, 16)}-`;

export function ticketPath(dir: string, storePath: string, userid: string): string {
  return join(dir, `${storePrefix(storePath)}${userid}`);
}

export function writeTicket(dir: string, storePath: string, userid: string, secret: string): string {
  makePrivateDirectories(dir);
  const path = ticketPath(dir, storePath, userid);
  rmSync(path, { force: true });
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return path;
}

/** The secret in a ticket file, or null when there is none (or it cannot be read). */
export function readTicket(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^[A-Za-z0-9_-]{43}$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

export function removeTicket(path: string): void {
  rmSync(path, { force: true });
}

/** The ticket files this store issued: user id and path. */
export function ticketsOf(dir: string, storePath: string): { readonly userid: string; readonly path: string }[] {
  const prefix = storePrefix(storePath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix)).map((n) => ({ userid: n.slice(prefix.length), path: join(dir, n) }));
}
