import { fillPrivateFile, INPUT_LIMITS, readInputFile } from '../files.js';
import { fingerprintMatches, readKeyFile } from '../store/keyfile.js';
import { statSync } from 'node:fs';
import { RefusedError, StoreError } from '../errors.js';
import { authorize } from './authz.js';
import type { HeldStep, RemovedAccess, RestoreEffect, RevivedAccess } from '../domain/restore-revival.js';
import { ensureKeyFile, type Session } from './session.js';
import { open, realmKeyContext, secretContext } from '../domain/secret-box.js';
import { escapeText } from '../domain/text.js';
import type { RestoreOutcome, SealedSecretRow } from '../store/types.js';

export interface BackupResult {
  readonly file: string;
  readonly keyFile: string;
}

/**
 * Writes a consistent snapshot of the store to a new 0600 file while other tfactl processes keep
 * working. Secrets stay sealed: the backup is useless without the key file, so the key file it
 * names (to be kept with it) is checked first: there, private, and this store's own (exit 6, and
 * no file written, when not). root@local only.
 */
export async function backupStore(session: Session, file: string): Promise<BackupResult> {
  const keyFile = session.keyPath;
  await authorize(session, 'store.whole', 'store.backup');
  await session.secretKey();
  // A store whose making was cut short between its key file and the key's fingerprint (a process
  // killed) has its fingerprint recorded now, as init would: the backup would else be refused by
  // restore ("no key fingerprint"). The key is there (secretKey above), and root@local's own.
  await ensureKeyFile(session.random, session.store, keyFile);
  // Written beside it and renamed into place: a backup cut short leaves an empty file, never one
  // that looks whole.
  await fillPrivateFile(file, session.random.bytes(6).toString('hex'), async () => {
    const image = await session.store.backupImage();
    // Checked as restore checks it: a damaged store's backup would be found to be one only on
    // the day it is needed.
    const copy = await session.store.readBackup(image, file);
    try {
      if (!copy.inspection.ok) throw new StoreError(`the store is damaged, so no backup was written: its copy would not restore (${copy.inspection.problem})`, 'store_corrupt');
    } finally {
      copy.close();
    }
    return image;
  });
  await session.audit({ action: 'store.backup', target: null, outcome: 'ok', detail: { file } });
  return { file, keyFile };
}

export interface RestoreResult {
  readonly file: string;
  readonly users: number;
  /** What the backup grants that the store it replaced no longer did (revoked since it was made). */
  readonly revived: RevivedAccess;
  /** What the store had that the backup does not (made since it was), which the restore took away. */
  readonly removed: RemovedAccess;
  /** The backup's TOTP steps of a time still to come, held to now (a clock ran ahead when they were spent). */
  readonly held: readonly HeldStep[];
  /** The backup's audit entries the store's trail lacked (pruned since, or another store's), added to it. */
  readonly auditEntries: number;
  /** Whether the store was left as it was: only what a restore would bring back was found. */
  readonly dryRun: boolean;
}

export interface RestoreOptions {
  /** Check the backup and say what it would bring back; replace nothing (`restore --dry-run`). */
  readonly dryRun?: boolean;
  /**
   * Told what the backup would bring back and take away once it has passed every check, before
   * anything is replaced (what the command's prompt shows); throws to stop.
   */
  readonly beforeReplacing?: (effect: RestoreEffect) => Promise<void>;
  /** Asked last, right before anything is replaced (after beforeReplacing), or a dry run answers; throws to stop (Ctrl-C). */
  readonly stillWanted?: () => Promise<void>;
}

/**
 * Replaces the store with a backup after checking it: integrity, tfactl's schema from this or an
 * older version, the built-in realm `local` and `root@local`, and a key fingerprint matching this
 * store's key file (a foreign backup's secrets could never be opened). What was spent since the
 * backup stays spent (Store.restoreFrom). root@local only: it replaces every account, root's
 * included. Says, and audits, what the backup brings back that was revoked since it was made: a
 * restore cannot tell a revocation from any other change, so the admin is told, before
 * (RestoreOptions) and after.
 */
export async function restoreStore(session: Session, file: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const keyFile = session.keyPath;
  await authorize(session, 'store.whole', 'store.restore');
  // A dry run changes nothing, the audit trail included.
  const refuse = async (reason: string) =>
    options.dryRun ? undefined : session.audit({ action: 'store.restore', target: null, outcome: 'refused', detail: { file, reason } });
  // Read once, by us, from a checked regular file of bounded size (a FIFO or device is refused,
  // never waited on): what is checked here is exactly what is restored.
  const image = readInputFile(file, { name: 'the backup', maxBytes: INPUT_LIMITS.backup });
  if (hasJournal(file, 'wal')) {
    await refuse('write-ahead log beside it');
    throw new StoreError(
      `refusing to restore ${file}: changes to it wait in ${file}-wal, beside it; open it once with sqlite3 to fold them in, or restore a file tfactl backup wrote`,
      'backup_invalid',
    );
  }
  if (hasJournal(file, 'journal')) {
    await refuse('rollback journal beside it');
    throw new StoreError(
      `refusing to restore ${file}: ${file}-journal beside it says a write to it never finished (a copy cut short?), so the file is not whole; restore another backup`,
      'backup_invalid',
    );
  }
  const copy = await session.store.readBackup(image, file);
  const { inspection } = copy;
  let effect: RestoreOutcome;
  try {
    if (!inspection.ok) {
      await refuse(inspection.problem ?? 'unreadable');
      throw new StoreError(`refusing to restore ${file}: ${inspection.problem}`, 'backup_invalid');
    }
    if (inspection.keyFingerprint === null) {
      // Every store tfactl writes keeps its key's fingerprint: without it nothing says whose key
      // sealed the secrets, and the restored store would take any key file for its own.
      await refuse('no key fingerprint');
      throw new StoreError(`refusing to restore ${file}: it has no key fingerprint (setting key.fingerprint), so it cannot be matched to ${keyFile}`, 'backup_invalid');
    }
    const key = readKeyFile(keyFile);
    if (!fingerprintMatches(key, inspection.keyFingerprint)) {
      await refuse('key mismatch');
      throw new RefusedError(`refusing to restore ${file}: it belongs to another key file than ${keyFile}; set TFACTL_KEY_FILE to the key kept with the backup`, 'backup_foreign');
    }
    // The right key, so every secret must open: one that does not was damaged (or moved to
    // another row), and restored it would fail every sign-in and export that reads it.
    const damaged = unopenedSecret(copy.sealedSecrets(), key);
    if (damaged !== null) {
      await refuse('a secret does not open');
      throw new StoreError(`refusing to restore ${file}: ${damaged} does not open with its key file, which is the backup's own: the backup is damaged`, 'backup_invalid');
    }
    try {
      if (options.dryRun || options.beforeReplacing) {
        const preview = await session.store.previewRestore(copy, session.now());
        if (options.dryRun) {
          await options.stillWanted?.();
          return { file, users: inspection.users, ...preview, dryRun: true };
        }
        await options.beforeReplacing?.(preview);
      }
      await options.stillWanted?.();
      effect = await session.store.restoreFrom(copy, session.now());
    } catch (e) {
      if (e instanceof StoreError && e.code === 'backup_invalid') await refuse(e.message);
      throw e;
    }
  } finally {
    copy.close();
  }
  // Counts only: the lists are the result's, and a long one would swell the audit trail.
  const counts = (lists: object) => Object.fromEntries(Object.entries(lists).map(([k, v]) => [k, (v as readonly unknown[]).length]));
  await session.audit({ action: 'store.restore', target: null, outcome: 'ok', detail: { file, users: inspection.users, revived: counts(effect.revived), removed: counts(effect.removed), held: effect.held.length, auditEntries: effect.auditEntries } });
  return { file, users: inspection.users, ...effect, dryRun: false };
}

/**
 * Whether the backup has a non-empty WAL beside it, whose changes the file alone does not hold, or
 * a rollback journal, left by a write that never finished (SQLite would undo it on opening).
 */
function hasJournal(file: string, kind: 'wal' | 'journal'): boolean {
  try {
    return statSync(`${file}-${kind}`).size > 0;
  } catch {
    return false;
  }
}

/** The first sealed secret that `key` does not open where it is (named for a message), or null. */
function unopenedSecret(rows: Iterable<SealedSecretRow>, key: Buffer): string | null {
  for (const row of rows) {
    const context = row.kind === 'factor' ? secretContext(row.userid, row.id, row.type) : realmKeyContext(row.realm);
    if (open(key, row.sealed, context) !== null) continue;
    return row.kind === 'factor' ? `the ${row.type} secret of ${row.userid} (factor ${escapeText(row.id)})` : `the YubiKey API key of realm ${row.realm}`;
  }
  return null;
}
