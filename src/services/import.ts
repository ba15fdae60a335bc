import { availableParallelism } from 'node:os';
import { tfactlLine } from '../domain/command-line.js';
import { asForOthers, decide, isRoot, type Operation } from '../domain/permissions.js';
import { checkPassword as checkPasswordPolicy } from '../domain/password-policy.js';
import { open, openedIs, secretContext } from '../domain/secret-box.js';
import type { ImportRow, ParsedRow } from '../domain/import-rows.js';
import { ROOT_USERID } from '../domain/userid.js';
import { TfaError } from '../errors.js';
import type { NewTotpFactor, RealmRecord, Store, UserPatch } from '../store/types.js';
import { authorize } from './authz.js';
import { type EnrolledTotp, enrolled, prepareTotp, totpFactorRow } from './kinds/totp-enrolment.js';
import { type PreparedRecoverySet, prepareRecoverySet } from './kinds/recovery-enrolment.js';
import { lookalikeReason } from './new-names.js';
import { hashPassword } from './passwords.js';
import type { Session } from './session.js';
import { passwordPolicy } from './settings.js';

export interface ImportResult {
  readonly line: number;
  readonly userid: string | null;
  readonly status: 'created' | 'updated' | 'skipped' | 'failed';
  /** Why the row failed or was skipped; null when it went in. */
  readonly error: string | null;
  /** The TOTP factor created, with its secret and URI, for CI to hand out; null when none was. */
  readonly totp: EnrolledTotp | null;
  /** The recovery keys created, shown this once; null when none were. */
  readonly recoveryKeys: readonly string[] | null;
}

export interface ImportSummary {
  readonly created: number;
  readonly updated: number;
  readonly skipped: number;
  readonly failed: number;
  /** Every row read, in input order. */
  readonly results: readonly ImportResult[];
  /**
   * Why reading the input stopped before its end (its shape turned out wrong, it grew too large),
   * after the rows before it were imported (with `atomic`, none were); null when it was read to its
   * end or the import was stopped.
   */
  readonly inputError: TfaError | null;
}

export interface ImportOptions {
  /** Update existing users (password, admin, email, comment, expiry, missing factors) instead of skipping them. */
  readonly update: boolean;
  /** All or nothing: one transaction, and any bad row writes nothing. */
  readonly atomic: boolean;
  /**
   * Check every row and say what it would do, writing nothing (not even to the audit trail):
   * the rows are written in one transaction that is rolled back, each in a savepoint of its own
   * (so a row that fails leaves the others), and no password is hashed. No secrets are made that
   * anyone would see: results carry none.
   */
  readonly dryRun?: boolean;
  /** Called as rows finish, with how many have. */
  readonly progress?: (done: number) => void;
  /** Called with each row's result as soon as it is final (a user's secrets right after its commit). */
  readonly onResult?: (result: ImportResult) => void;
  /**
   * Called, for a row with secrets to show, with the result it will have if it commits, before it
   * does: a results file that has them on disk first survives the process being killed between
   * the commit and onResult. A throw keeps the row from committing. `made`: whether the import
   * made them (recovery keys, a new TOTP secret), or they came with the row.
   */
  readonly beforeCommit?: (result: ImportResult, made: boolean) => void;
  /** True once the import should stop starting rows (interrupted): rows in flight still finish. */
  readonly stopped?: () => boolean;
}

/** The password hash a dry run's row is written with, in the transaction that is rolled back. */
const UNHASHED = '$dry-run$';

/** What one row will write, worked out (and its password hashed) before any transaction. */
interface PreparedRow {
  readonly row: ImportRow;
  readonly exists: boolean;
  /** When the existing user was made (a user deleted and made again under the id meanwhile is another). */
  readonly created: number | null;
  readonly passwordHash: string | null;
  readonly totp: { readonly row: NewTotpFactor; readonly result: EnrolledTotp } | null;
  readonly recovery: PreparedRecoverySet | null;
}

class RowError extends Error {
  /** Set for a change this actor may not make, found with the change: audited as refused under this action. */
  constructor(
    message: string,
    readonly refusedAs?: string,
  ) {
    super(message);
  }
}

/** How many rows of `results` went each way. */
export function countOutcomes(results: readonly ImportResult[]): Record<ImportResult['status'], number> {
  const counts = { created: 0, updated: 0, skipped: 0, failed: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}

/**
 * Creates (or with `update` changes) users in bulk, from rows read as they come: memory grows with
 * the results, never with the input. Admins only. Passwords are hashed in parallel on every core;
 * each user commits in its own transaction as soon as its hash is ready, so an import killed midway
 * leaves whole users only, and running it again skips those and completes the rest. With `atomic`
 * everything commits in one transaction, or nothing if any row fails or the input breaks off.
 * An input that throws a TfaError stops the reading (see ImportSummary.inputError); rows in flight
 * still finish.
 */
export async function importUsers(session: Session, rows: AsyncIterable<ParsedRow>, options: ImportOptions): Promise<ImportSummary> {
  await authorize(session, 'user.create', 'user.import');
  const dryRun = options.dryRun === true;
  const policy = await passwordPolicy(session.store);
  const realms = new Map((await session.store.listRealms()).map((r) => [r.name, r]));
  const results: ImportResult[] = [];
  let done = 0;
  const finish = (index: number, result: ImportResult) => {
    results[index] = result;
    options.onResult?.(result);
    options.progress?.(++done);
  };
  const prepared: (PreparedRow | undefined)[] = [];
  const announce = (p: PreparedRow) => {
    if (p.totp || p.recovery) options.beforeCommit?.(resultOf(p, { totp: true, recovery: true, changed: true }), p.recovery !== null || (p.totp !== null && (p.row.totp?.secret ?? null) === null));
  };
  // A dry run's rows are not committed, so not announced; what announcing would refuse (secrets
  // that would reach no one) fails them as it would the import's.
  const announceRefusal = (p: PreparedRow): RowError | null => {
    try {
      announce(p);
      return null;
    } catch (e) {
      if (!(e instanceof TfaError && e.exitCode === 2)) throw e;
      return new RowError(e.message);
    }
  };

  const work = async (index: number, item: ParsedRow): Promise<void> => {
    if (!item.ok) return finish(index, outcome(item.line, item.userid, 'failed', item.error));
    try {
      const p = await prepareRow(session, item.row, realms.get(item.row.realm), policy, options.update, dryRun);
      if (p === 'skip') return finish(index, outcome(item.row.line, item.row.userid, 'skipped', SKIPPED.exists));
      if (options.atomic || dryRun) {
        prepared[index] = p;
        return;
      }
      announce(p);
      const written = await session.store.transaction((tx) => commitRow(session, tx, p));
      // Another command made the user first (skipped, as an existing user is), or, where the row
      // was to update it (or --update was to apply it), deleted or made it meanwhile: not dropped unsaid.
      if (!written && (p.exists || options.update)) {
        throw new RowError(`${item.row.userid} was ${p.exists ? 'deleted' : 'added'} by another command while this import ran: nothing of this row was written (run the import again)`);
      }
      finish(index, written ? resultOf(p, written) : outcome(item.row.line, item.row.userid, 'skipped', SKIPPED.raced));
    } catch (e) {
      // A row's own failure, or the user or realm it names deleted meanwhile (not found: the others go on).
      if (!(e instanceof RowError) && !(e instanceof TfaError && (e.exitCode === 2 || e.exitCode === 3))) throw e;
      if (e instanceof RowError && e.refusedAs !== undefined && !dryRun) {
        await session.audit({ action: e.refusedAs, target: item.row.userid, outcome: 'refused', detail: { via: 'import', line: item.row.line, reason: e.message } });
      }
      finish(index, outcome(item.row.line, item.row.userid, 'failed', `line ${item.row.line}: ${e.message}`));
    }
  };

  // Rows are read as lanes ask for them: the input is never ahead of the import by more than what
  // the reader holds. Interrupted, no lane asks again; the same command later picks up the rest.
  const input = rows[Symbol.asyncIterator]();
  let read = 0;
  // Set by nextRow (a closure): declared wide so that TypeScript does not take it as always null.
  let inputError = null as TfaError | null;
  let reading = true;
  const nextRow = async (): Promise<{ index: number; item: ParsedRow } | null> => {
    if (!reading || options.stopped?.()) return null;
    try {
      const next = await input.next();
      if (!next.done) return { index: read++, item: next.value };
    } catch (e) {
      // Stopped while waiting for input: the input was closed under the reading, which is its end.
      if (!options.stopped?.()) {
        if (!(e instanceof TfaError)) throw e;
        inputError ??= e;
      }
    }
    reading = false;
    return null;
  };
  // argon2 hashes on libuv's thread pool. Twice as many rows in flight as cores keeps every core
  // hashing while the main thread parses, seals and commits the rows that are done. A failure that
  // is not a row's (the store full or gone, the results file unwritable) stops the reading, and is
  // thrown once every lane has settled: rows still in flight may commit, and each that does has
  // been handed to onResult before the throw, so the caller can still show every secret it made.
  let fatal: { readonly error: unknown } | null = null;
  try {
    await Promise.all(
      Array.from({ length: Math.max(1, 2 * availableParallelism()) }, async () => {
        try {
          for (let next = await nextRow(); next; next = await nextRow()) await work(next.index, next.item);
        } catch (e) {
          fatal ??= { error: e };
          reading = false;
        }
      }),
    );
  } finally {
    await input.return?.();
  }
  if (fatal) throw (fatal as { readonly error: unknown }).error;

  if (dryRun) {
    const refused = new Map(prepared.flatMap((p) => (p ? [[p, announceRefusal(p)] as const] : [])).filter((e): e is readonly [PreparedRow, RowError] => e[1] !== null));
    const outcomes = await tryRows(session, prepared.map((p) => (p && refused.has(p) ? undefined : p)), options.update);
    for (const [p, e] of refused) outcomes.set(p, e);
    const failing = results.some((r) => r?.status === 'failed') || inputError !== null || [...outcomes.values()].some((o) => o instanceof RowError);
    const why = inputError ? 'the input is not valid past this row' : 'another row would fail';
    prepared.forEach((p, index) => {
      if (!p) return;
      const o = outcomes.get(p)!;
      finish(
        index,
        o instanceof RowError
          ? outcome(p.row.line, p.row.userid, 'failed', `line ${p.row.line}: ${o.message}`)
          : options.atomic && failing
            ? outcome(p.row.line, p.row.userid, 'failed', `line ${p.row.line}: would not be imported (--atomic, and ${why})`)
            : o
              ? { ...resultOf(p, o), totp: null, recoveryKeys: null }
              : outcome(p.row.line, p.row.userid, 'skipped', SKIPPED.raced),
      );
    });
    return { ...countOutcomes(results), results, inputError };
  }

  if (options.atomic) {
    // Interrupted (Ctrl-C, SIGTERM) before the commit: all or nothing means nothing.
    const interrupted = options.stopped?.() === true;
    const before = results.some((r) => r?.status === 'failed') || inputError !== null || interrupted;
    const written = new Map<PreparedRow, Written | false>();
    // A row that another command changed meanwhile (its user deleted or made, made an admin) fails
    // the whole commit, as any failed row does: all or nothing.
    let raced: { readonly p: PreparedRow; readonly error: RowError } | null = null;
    if (!before) {
      for (const p of prepared) if (p) announce(p);
      try {
        await session.store.transaction(async (tx) => {
          for (const p of prepared) {
            if (!p) continue;
            let w: Written | false;
            try {
              w = await commitRow(session, tx, p);
            } catch (e) {
              if (e instanceof RowError || (e instanceof TfaError && e.exitCode === 3)) raced = { p, error: e instanceof RowError ? e : new RowError(e.message) };
              throw e;
            }
            if (!w && (p.exists || options.update)) {
              raced = { p, error: new RowError(`${p.row.userid} was ${p.exists ? 'deleted' : 'added'} by another command while this import ran: nothing was imported (run the import again)`) };
              throw raced.error;
            }
            written.set(p, w);
          }
        });
      } catch (e) {
        if (raced === null) throw e;
        written.clear();
        const { p, error } = raced as { readonly p: PreparedRow; readonly error: RowError };
        if (error.refusedAs !== undefined) await session.audit({ action: error.refusedAs, target: p.row.userid, outcome: 'refused', detail: { via: 'import', line: p.row.line, reason: error.message } });
      }
    }
    const failed = before || raced !== null;
    const racedRow = raced as { readonly p: PreparedRow; readonly error: RowError } | null;
    const why = inputError ? 'the input is not valid past this row' : interrupted ? 'the import was interrupted' : racedRow ? `line ${racedRow.p.row.line} could not be written` : 'another row failed';
    // Every row is handed on even if handing one fails (its results file on a full disk): they
    // are all committed, and each holds secrets no one else will see.
    let unreported: { readonly error: unknown } | null = null;
    prepared.forEach((p, index) => {
      if (!p) return;
      const w = written.get(p);
      const result: ImportResult = failed
        ? outcome(p.row.line, p.row.userid, 'failed', racedRow?.p === p ? `line ${p.row.line}: ${racedRow.error.message}` : `line ${p.row.line}: not imported (--atomic, and ${why})`)
        : w
          ? resultOf(p, w)
          : outcome(p.row.line, p.row.userid, 'skipped', SKIPPED.raced);
      try {
        finish(index, result);
      } catch (e) {
        unreported ??= { error: e };
      }
    });
    if (unreported) throw (unreported as { readonly error: unknown }).error;
  }

  const summary = countOutcomes(results);
  await session.audit({
    action: 'user.import',
    target: null,
    outcome: summary.failed || inputError ? 'failed' : 'ok',
    detail: inputError ? { ...summary, inputError: inputError.code } : summary,
  });
  return { ...summary, results, inputError };
}

/** Ends the transaction of a dry run, so that it is rolled back (a TfaError: stores pass those on as they are). */
class RolledBack extends TfaError {
  constructor() {
    super('a dry run is rolled back', 'internal', 1);
  }
}

/**
 * What each prepared row would write (or why it would fail), found by writing them all in one
 * transaction, each in a savepoint of its own, and rolling it back: the same checks, in the same
 * order, as an import makes, rows of the same user in one file included.
 */
async function tryRows(session: Session, prepared: readonly (PreparedRow | undefined)[], update: boolean): Promise<Map<PreparedRow, Written | false | RowError>> {
  const outcomes = new Map<PreparedRow, Written | false | RowError>();
  try {
    await session.store.transaction(async (tx) => {
      for (const p of prepared) {
        if (!p) continue;
        try {
          const w = await tx.transaction((row) => commitRow(session, row, p));
          outcomes.set(p, !w && (p.exists || update) ? new RowError(`${p.row.userid} was ${p.exists ? 'deleted' : 'added'} by another command while this import ran`) : w);
        } catch (e) {
          if (!(e instanceof RowError) && !(e instanceof TfaError && e.exitCode === 3)) throw e;
          outcomes.set(p, e instanceof RowError ? e : new RowError(e.message));
        }
      }
      throw new RolledBack();
    });
  } catch (e) {
    if (!(e instanceof RolledBack)) throw e;
  }
  return outcomes;
}

/** A row's result that created no factor. */
function outcome(line: number, userid: string | null, status: ImportResult['status'], error: string | null = null): ImportResult {
  return { line, userid, status, error, totp: null, recoveryKeys: null };
}

/** Which of a row's factors were written (a concurrent run may have added them first). */
interface Written {
  readonly totp: boolean;
  readonly recovery: boolean;
  /** False for a row that found the user as it says (nothing written). */
  readonly changed: boolean;
}

/** Why a row was skipped: said with it, so a rerun of an import cut short names the users it had made. */
const SKIPPED = {
  exists: 'the user exists (--update changes existing users)',
  raced: 'another command made the user while this import ran',
  unchanged: 'the user has what the row says already',
} as const;

function resultOf(p: PreparedRow, written: Written): ImportResult {
  const status = p.exists ? (written.changed ? 'updated' : 'skipped') : 'created';
  return {
    line: p.row.line,
    userid: p.row.userid,
    status,
    error: status === 'skipped' ? SKIPPED.unchanged : null,
    totp: p.totp && written.totp ? p.totp.result : null,
    recoveryKeys: p.recovery && written.recovery ? p.recovery.keys : null,
  };
}

async function prepareRow(
  session: Session,
  row: ImportRow,
  realm: RealmRecord | undefined,
  policy: Awaited<ReturnType<typeof passwordPolicy>>,
  update: boolean,
  dryRun: boolean,
): Promise<PreparedRow | 'skip'> {
  if (!realm) throw new RowError(`realm ${row.realm} does not exist`);
  const existing = await session.store.getUser(row.userid);
  if (existing && !update) return 'skip';
  const lookalike = existing ? null : await lookalikeReason(session.store, row.userid);
  if (lookalike !== null) throw new RowError(lookalike);
  if (row.userid === ROOT_USERID && !isRoot(session.actor)) throw new RowError(`only ${ROOT_USERID} may change ${ROOT_USERID}`);
  if (row.userid === ROOT_USERID && (row.admin === false || (row.expire ?? null) !== null)) throw new RowError(`${ROOT_USERID} cannot be demoted or expired`);
  if (realm.enforce === 'yubico') throw new RowError(`realm ${realm.name} enforces YubiKey OTP: add users there with 'tfactl user add --yubico-otp'`);
  if (typeof row.password === 'string') checkPasswordPolicy(row.password, policy);
  const factors = existing ? await session.store.listFactors(row.userid) : [];
  const wantTotp = row.totp ?? (realm.enforce === 'totp' && !factors.some((f) => f.type === 'totp') ? { secret: null } : null);
  if (existing) {
    const addsFactor = (wantTotp !== null && !factors.some((f) => f.type === 'totp')) || (row.recovery && !factors.some((f) => f.type === 'recovery'));
    await permitChanges(session, row, dryRun, [
      ...(typeof row.password === 'string' ? (['user.passwd'] as const) : []),
      ...(typeof row.password === 'string' && existing.admin ? (['user.passwd-admin'] as const) : []),
      ...(addsFactor ? (['tfa.manage'] as const) : []),
      // What a row changes, not what it says again (an admin's row saying admin=true, the same expiry).
      ...((row.admin !== undefined && row.admin !== existing.admin) || (row.expire !== undefined && row.expire !== existing.expire) ? (['user.modify'] as const) : []),
      ...((row.admin === true && !existing.admin) || (existing.admin && row.expire !== undefined && row.expire !== existing.expire) ? (['user.grant-admin'] as const) : []),
    ]);
  } else if (row.admin === true) await permitChanges(session, row, dryRun, ['user.grant-admin'], 'user.add');
  let totp: PreparedRow['totp'] = null;
  const secret = wantTotp?.secret ? (await import('../domain/totp.js')).parseSecret(wantTotp.secret) : undefined;
  if (secret !== undefined && factors.some((f) => f.type === 'totp')) {
    // A secret asked for by name (and perhaps handed out already) is never dropped unsaid: the
    // user's TOTP must be that one (the same file imported again), or the row fails.
    const key = await session.secretKey();
    const held = await session.store.getTotpSecrets(row.userid, true);
    if (!held.some((f) => openedIs(open(key, f.sealedSecret, secretContext(row.userid, f.id, 'totp')), secret))) {
      throw new RowError(`${row.userid} already has a TOTP factor with another secret, so the one in this row was not added: delete it first (${tfactlLine('tfa delete', [row.userid], '--type totp')}), or leave the secret out`);
    }
  }
  if (wantTotp && !factors.some((f) => f.type === 'totp')) {
    const p = await prepareTotp(session, row.userid, realm, { description: 'TOTP', secret, params: {} });
    totp = { row: await totpFactorRow(session, p, null), result: enrolled(p, false) };
  }
  let recovery: PreparedRow['recovery'] = null;
  if (row.recovery && !factors.some((f) => f.type === 'recovery')) {
    recovery = await prepareRecoverySet(session, row.userid);
  }
  // A dry run writes the row only to roll it back: the hash (argon2id, the import's whole cost) is not made.
  const passwordHash = typeof row.password === 'string' ? (dryRun ? UNHASHED : await hashPassword(row.password)) : null;
  return { row, exists: existing !== undefined, created: existing?.created ?? null, passwordHash, totp, recovery };
}

/**
 * Refuses (audited, unless a dry run, as `adding` or the command the change is) a row that would change a user in a
 * way this actor may not change them with `user passwd`, `tfa add` or `user modify`: an API token
 * adds no second factor, sets no password of its own user or of an admin and makes no admin, nor
 * does a user signed in only by a kept session change their own (domain/permissions.ts).
 */
async function permitChanges(session: Session, row: ImportRow, dryRun: boolean, ops: readonly Operation[], adding?: string): Promise<void> {
  for (const op of ops) {
    const decision = decide(session.actor, op, row.userid);
    if (decision.allowed) continue;
    const action = adding ?? (op === 'tfa.manage' ? 'tfa.add' : asForOthers(op));
    if (!dryRun) await session.audit({ action, target: row.userid, outcome: 'refused', detail: { via: 'import', line: row.line, reason: decision.reason } });
    throw new RowError(decision.reason);
  }
}

/**
 * Writes one prepared row; false when a concurrent import created the user first. Precondition:
 * `tx` is a transaction, so the checks of existing factors here cannot be overtaken.
 */
async function commitRow(session: Session, tx: Store, p: PreparedRow): Promise<Written | false> {
  const { row } = p;
  // What the audit trail says of the user's own fields, as user modify and user add say it.
  let fields: Record<string, unknown>;
  if (p.exists) {
    // Only what the file says and the user does not have already: an absent column leaves the
    // field alone, and a row that says it all again changes nothing (counted skipped, not audited).
    const current = await tx.getUser(row.userid);
    if (!current || current.created !== p.created) return false;
    // Checked again with the change: the user may have been made an admin (or stopped being one)
    // while the row was prepared (its password hashed), which changes what this actor may do.
    const may = (op: Operation) => decide(session.actor, op, row.userid);
    for (const [applies, op] of [
      [p.passwordHash !== null && current.admin, 'user.passwd-admin'],
      [(row.admin === true && !current.admin) || (current.admin && row.expire !== undefined && row.expire !== current.expire), 'user.grant-admin'],
    ] as const) {
      const decision = may(op);
      if (applies && !decision.allowed) throw new RowError(decision.reason, asForOthers(op));
    }
    const patch: UserPatch = {
      ...(row.admin !== undefined && row.admin !== current.admin && { admin: row.admin }),
      ...(row.email !== undefined && row.email !== current.email && { email: row.email }),
      ...(row.comment !== undefined && row.comment !== current.comment && { comment: row.comment }),
      ...(row.expire !== undefined && row.expire !== current.expire && { expire: row.expire }),
      ...(p.passwordHash !== null && { passwordHash: p.passwordHash }),
    };
    if (Object.keys(patch).length > 0 && !(await tx.updateUser(row.userid, patch, session.now()))) return false;
    // Admin rights as they now are, when the row set them: granted or taken away.
    fields = { changed: Object.keys(patch).map((k) => (k === 'passwordHash' ? 'password' : k)), ...(row.admin !== undefined && { admin: row.admin }) };
  } else {
    const inserted = await tx.insertUser({
      userid: row.userid,
      realm: row.realm,
      admin: row.admin ?? false,
      enabled: true,
      email: row.email ?? null,
      comment: row.comment ?? null,
      expire: row.expire ?? null,
      passwordHash: p.passwordHash,
      created: session.now(),
    });
    if (!inserted) return false;
    fields = { admin: row.admin ?? false, expire: row.expire ?? null };
  }
  const factors = p.exists ? await tx.listFactors(row.userid) : [];
  const totp = p.totp !== null && !factors.some((f) => f.type === 'totp');
  if (totp && p.totp) await tx.insertTotpFactor(p.totp.row);
  const recovery = p.recovery !== null && (await tx.putRecoverySet(p.recovery.set, false));
  const changed = !p.exists || (fields.changed as string[]).length > 0 || totp || recovery;
  if (!changed) return { totp, recovery, changed };
  await session.audit({
    action: p.exists ? 'user.modify' : 'user.add',
    target: row.userid,
    outcome: 'ok',
    detail: { via: 'import', line: row.line, ...fields, password: p.passwordHash !== null, totp, recovery },
  }, tx);
  return { totp, recovery, changed };
}
