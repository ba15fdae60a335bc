import type {
  ProxmoxDatacenterCfg,
  ProxmoxRealm,
  ProxmoxTfa,
  ProxmoxU2fConfig,
  ProxmoxUser,
  ProxmoxUserCfg,
  ProxmoxUserTfa,
  ProxmoxWebauthnConfig,
} from '../domain/proxmox.js';
import { seal, secretContext, totpSecretMark } from '../domain/secret-box.js';
import { countOf, hasOrHave, safeJson } from '../domain/text.js';
import { DEFAULT_TOTP_PARAMS, latestPlausibleStep, type TotpParams } from '../domain/totp-params.js';
import { formatOriginList, originFitsRpId } from '../domain/webauthn-settings.js';
import { RefusedError, UsageError } from '../errors.js';
import type { EnforceType, NewCredentialFactor, NewRecoverySet, NewTotpFactor, NewYubicoFactor, Store, YubicoRealmConfig } from '../store/types.js';
import { authorize, refuse } from './authz.js';
import { decide } from '../domain/permissions.js';
import { realmPassedFor, ROOT_USERID } from '../domain/userid.js';
import { newFactorId } from './factors.js';
import { lookalikeReason } from './new-names.js';
import type { Session } from './session.js';
import { readSettings } from './settings.js';
import { realmKeyContext } from './yubico.js';

export interface ProxmoxImportInput {
  readonly tfa: ProxmoxTfa;
  readonly userCfg: ProxmoxUserCfg;
  /** Realms from domains.cfg; null when it was not given (realms then enforce nothing). */
  readonly realms: readonly ProxmoxRealm[] | null;
  /** The webauthn and u2f lines of datacenter.cfg; null when it was not given. */
  readonly datacenter: ProxmoxDatacenterCfg | null;
}

export interface PlannedRealm {
  readonly name: string;
  readonly action: 'create' | 'exists';
  readonly enforce: EnforceType;
}

export interface PlannedUser {
  readonly userid: string;
  readonly enabled: boolean;
  readonly totp: number;
  readonly yubico: number;
  readonly recoveryKeysLeft: number | null;
  readonly webauthn: number;
  readonly u2f: number;
  readonly totpLocked: boolean;
  readonly lockedUntil: number | null;
}

/** A store setting the import sets (the cluster's WebAuthn and U2F settings). */
export interface PlannedSetting {
  readonly key: string;
  readonly value: string;
  /** Where the value comes from: `datacenter.cfg line 3` or `tfa.cfg`. */
  readonly source: string;
}

export interface ProxmoxImportPlan {
  readonly dryRun: boolean;
  readonly realms: readonly PlannedRealm[];
  readonly users: readonly PlannedUser[];
  readonly settings: readonly PlannedSetting[];
  readonly warnings: readonly string[];
}

/** Everything one user brings, ready to insert. */
interface UserRows {
  readonly user: ProxmoxUser;
  readonly tfa: ProxmoxUserTfa | undefined;
  readonly totp: { readonly row: NewTotpFactor; readonly enabled: boolean }[];
  readonly yubico: { readonly row: NewYubicoFactor; readonly enabled: boolean }[];
  readonly recovery: NewRecoverySet | null;
  readonly credentials: NewCredentialFactor[];
}

/**
 * Imports realms, users and their factors from Proxmox VE's user.cfg, tfa.cfg and domains.cfg, all
 * in one transaction: on any problem nothing is imported. Recovery key hashes are kept as they are
 * (tfactl hashes keys the Proxmox way), TOTP last-counts stay replay guards, lock state carries
 * over. Passwords are not in these files: imported users get one with `user passwd`. Admins only.
 */
export async function importProxmox(session: Session, input: ProxmoxImportInput, dryRun: boolean): Promise<ProxmoxImportPlan> {
  await authorize(session, 'store.manage', 'import.proxmox');
  const warnings: string[] = [];
  const settings = plannedSettings(input, warnings);
  // tfa.cfg's own objects are stored too (proxmox.webauthn, proxmox.u2f), even where datacenter.cfg wins.
  const tfaCfgSettings = input.tfa.webauthnConfig !== null || input.tfa.u2fConfig !== null;
  if ((settings.length > 0 || tfaCfgSettings) && !decide(session.actor, 'settings.change').allowed) {
    // They become store-wide settings, which decide how everyone signs in, root@local too.
    const files = [...new Set([...settings.map((p) => p.source.split(' ')[0]), ...(tfaCfgSettings ? ['tfa.cfg'] : [])])].join(' and ');
    await refuse(session, 'import.proxmox', null, `${files} hold${files.includes(' and ') ? '' : 's'} the cluster's WebAuthn/U2F settings, which become store-wide settings: only ${ROOT_USERID} may import them`, 'permission_denied');
  }
  const current = new Map((await readSettings(session.store, session.hostname)).map((s) => [s.key, s]));
  for (const p of settings) {
    const was = current.get(p.key);
    if (was && !was.isDefault && was.value !== p.value) warnings.push(`${p.key} is ${JSON.stringify(was.value)} in the store; the import sets ${JSON.stringify(p.value)} (${p.source})`);
  }
  const cfgUsers = new Map(input.userCfg.users.map((u) => [u.userid, u]));
  for (const t of input.tfa.users) {
    if (!cfgUsers.has(t.userid)) warnings.push(`tfa.cfg has factors for ${t.userid}, who is not in user.cfg: skipped`);
  }

  // Realms: those of domains.cfg, and any realm a user needs.
  const realmNames = new Set<string>([...(input.realms ?? []).map((r) => r.name), ...input.userCfg.users.map((u) => u.userid.slice(u.userid.lastIndexOf('@') + 1))]);
  const plannedRealms: PlannedRealm[] = [];
  // A realm that would pass for another (`lo-cal` beside `local`, in the store or in the files) refuses the import, as realm add does.
  const known = new Set([...(await session.store.listRealms()).map((r) => r.name), ...realmNames]);
  for (const name of [...realmNames].sort()) {
    const like = realmPassedFor(name, known);
    if (like !== null) throw new RefusedError(`realm ${name} would pass for realm ${like}: they differ only in '.', '-' or '_'; nothing imported`, 'confusable_name');
    const fromCfg = input.realms?.find((r) => r.name === name);
    if (input.realms && !fromCfg) {
      const user = input.userCfg.users.find((u) => u.userid.endsWith(`@${name}`));
      throw new UsageError(`user.cfg line ${user?.line}: realm ${name} of ${user?.userid} is not in domains.cfg`, 'invalid_proxmox_config');
    }
    const enforce: EnforceType = fromCfg?.enforcement.kind === 'totp' ? 'totp' : fromCfg?.enforcement.kind === 'yubico' ? 'yubico' : 'none';
    const existing = await session.store.getRealm(name);
    if (existing && existing.enforce !== enforce) warnings.push(`realm ${name} exists and enforces ${existing.enforce}; Proxmox's ${enforce} is not applied`);
    plannedRealms.push({ name, action: existing ? 'exists' : 'create', enforce });
  }

  // Users must all be new: merging into existing accounts could silently change them.
  const taken = [];
  for (const u of input.userCfg.users) if (await session.store.getUser(u.userid)) taken.push(u.userid);
  if (taken.length > 0) {
    throw new RefusedError(`already in the store: ${taken.slice(0, 5).join(', ')}${taken.length > 5 ? ` and ${taken.length - 5} more` : ''}; nothing imported`, 'exists');
  }
  for (const u of input.userCfg.users) {
    const lookalike = await lookalikeReason(session.store, u.userid);
    if (lookalike !== null) throw new RefusedError(`user.cfg line ${u.line}: ${lookalike}; nothing imported`, 'confusable_name');
  }

  const key = await session.secretKey();
  const now = session.now();
  const realmParams = (name: string): TotpParams => {
    const e = input.realms?.find((r) => r.name === name)?.enforcement;
    return e?.kind === 'totp' ? e.params : DEFAULT_TOTP_PARAMS;
  };
  // The RP id and appid the imported credentials were made under: what the files say, else none
  // (the store's setting then applies at each sign-in).
  const plannedRpId = settings.find((p) => p.key === 'webauthn.rp-id')?.value ?? null;
  const plannedAppId = settings.find((p) => p.key === 'u2f.appid')?.value || null;
  const rows: UserRows[] = input.userCfg.users.map((user) => {
    const realm = user.userid.slice(user.userid.lastIndexOf('@') + 1);
    const tfa = input.tfa.users.find((t) => t.userid === user.userid);
    const totp = (tfa?.totp ?? []).map((t) => {
      const id = newFactorId(session);
      // A last-count of a time to come (a Proxmox host whose clock ran ahead, a damaged file)
      // would refuse every code, and tfactl's own backups of the store would not restore: held
      // to now, said.
      let lastStep = t.lastCount;
      if (lastStep !== null && lastStep > latestPlausibleStep(now, t.params.period)) {
        const held = Math.floor(now / t.params.period);
        warnings.push(`tfa.cfg: the TOTP entry ${t.id} of ${user.userid} was last used at step ${lastStep}, a time still to come (a clock that ran ahead?): kept as step ${held}, now`);
        lastStep = held;
      }
      const row: NewTotpFactor = {
        id,
        userid: user.userid,
        description: t.description || 'TOTP (Proxmox)',
        created: t.created,
        sealedSecret: seal(key, session.random.bytes(12), t.secret, secretContext(user.userid, id, 'totp')),
        params: t.params,
        issuer: t.issuer,
        lastStep,
        verified: true,
        secretMark: totpSecretMark(key, user.userid, t.secret, t.params),
      };
      return { row, enabled: t.enabled, secret: t.secret };
    });
    const yubico = (tfa?.yubico ?? []).map((y) => ({
      row: { id: newFactorId(session), userid: user.userid, description: y.description || 'YubiKey (Proxmox)', created: y.created, publicId: y.publicId, sealedSecret: null, lastCounter: null },
      enabled: y.enabled,
    }));
    if (user.keys.kind === 'legacy') {
      // Realm keys from before tfa.cfg: TOTP secrets with the realm's parameters, or YubiKey ids.
      for (const secret of user.keys.totpSecrets) {
        const id = newFactorId(session);
        totp.push({
          row: {
            id,
            userid: user.userid,
            description: 'realm key (Proxmox user.cfg)',
            created: now,
            sealedSecret: seal(key, session.random.bytes(12), secret, secretContext(user.userid, id, 'totp')),
            params: realmParams(realm),
            issuer: null,
            lastStep: null,
            verified: true,
            secretMark: totpSecretMark(key, user.userid, secret, realmParams(realm)),
          },
          enabled: true,
          secret,
        });
      }
      for (const publicId of user.keys.yubicoIds) {
        yubico.push({
          row: { id: newFactorId(session), userid: user.userid, description: 'realm key (Proxmox user.cfg)', created: now, publicId, sealedSecret: null, lastCounter: null },
          enabled: true,
        });
      }
    }
    let recovery: NewRecoverySet | null = null;
    if (tfa?.recovery) {
      const id = newFactorId(session);
      recovery = {
        id,
        userid: user.userid,
        description: 'recovery keys (Proxmox)',
        created: tfa.recovery.created,
        sealedSecret: seal(key, session.random.bytes(12), tfa.recovery.secret, secretContext(user.userid, id, 'recovery')),
        hashes: tfa.recovery.slots,
      };
    }
    // Each keeps the RP id (appid) it was made under; none known: the store's setting at sign-in.
    const base = (e: { description: string; enabled: boolean; created: number; entry: unknown }, type: 'webauthn' | 'u2f') => ({
      id: newFactorId(session),
      userid: user.userid,
      type,
      description: e.description || `${type} (Proxmox)`,
      enabled: e.enabled,
      created: e.created,
      transports: [],
      data: safeJson(e.entry),
    });
    const credentials: NewCredentialFactor[] = [
      ...(tfa?.webauthn ?? []).map((e) => ({
        ...base(e, 'webauthn'),
        credentialId: Buffer.from(e.credential.credentialId).toString('base64url'),
        publicKey: Buffer.from(e.credential.publicKeyCose),
        algorithm: e.credential.algorithm,
        rpId: plannedRpId,
        counter: e.credential.counter,
      })),
      ...(tfa?.u2f ?? []).map((e) => ({
        ...base(e, 'u2f'),
        credentialId: Buffer.from(e.registration.keyHandle).toString('base64url'),
        publicKey: Buffer.from(e.registration.publicKey),
        algorithm: null,
        rpId: plannedAppId,
        counter: 0,
      })),
    ];
    // The store keeps a credential once per user: said by the dry run too, not first by the import.
    const ids = credentials.map((c) => c.credentialId);
    if (new Set(ids).size < ids.length) throw new RefusedError(`${user.userid} has the same WebAuthn/U2F credential twice in tfa.cfg; nothing imported`, 'exists');
    const { kept, dropped } = onePerSecret(totp);
    if (dropped > 0) warnings.push(`${user.userid} has ${dropped + kept.length} TOTP entries but ${countOf(kept.length, 'secret')} in the files: each secret is imported once (its codes would otherwise work once per copy)`);
    return { user, tfa, totp: kept, yubico, recovery, credentials };
  });
  // One security key registered for two users (Proxmox lets it be; enrolment here refuses it, as
  // WebAuthn asks): imported, as the cluster has it, and said, so an admin can remove the wrong one.
  const holders = new Map<string, string[]>();
  for (const r of rows) for (const c of r.credentials) holders.set(c.credentialId, [...(holders.get(c.credentialId) ?? []), r.user.userid]);
  for (const [credentialId, users] of holders) {
    const inStore = await session.store.credentialHeldByOther(users[0]!, credentialId);
    if (users.length > 1 || inStore) {
      warnings.push(`one security key (credential ${credentialId.slice(0, 12)}...) is registered for ${users.length > 1 ? users.join(' and ') : `${users[0]!} and a user already in the store`}: it signs in as either; remove it where it does not belong ('tfactl tfa delete USERID ID')`);
    }
  }
  // The credentials are bound to the RP id (appid) they were made under: without it they cannot sign in.
  const withWebauthn = rows.filter((r) => (r.tfa?.webauthn.length ?? 0) > 0).length;
  if (withWebauthn > 0 && !settings.some((p) => p.key === 'webauthn.rp-id')) {
    warnings.push(`${countOf(withWebauthn, 'user')} ${hasOrHave(withWebauthn)} WebAuthn credentials, but the files give no RP id they were made under: give --datacenter-cfg (its webauthn line)`);
  }
  const withU2f = rows.filter((r) => (r.tfa?.u2f.length ?? 0) > 0).length;
  if (withU2f > 0 && !settings.some((p) => p.key === 'u2f.appid')) {
    warnings.push(`${countOf(withU2f, 'user')} ${hasOrHave(withU2f)} U2F registrations, but the files give no appid they were made under: give --datacenter-cfg (its u2f line)`);
  }
  if (rows.length > 0) warnings.push(`passwords are not in Proxmox's files: set them with 'tfactl user passwd' (${countOf(rows.length, 'user')})`);

  const plan: ProxmoxImportPlan = {
    dryRun,
    realms: plannedRealms,
    users: rows.map((r) => ({
      userid: r.user.userid,
      enabled: r.user.enabled,
      totp: r.totp.length,
      yubico: r.yubico.length,
      recoveryKeysLeft: r.tfa?.recovery ? r.tfa.recovery.slots.filter((s) => s !== null).length : null,
      webauthn: r.credentials.filter((o) => o.type === 'webauthn').length,
      u2f: r.credentials.filter((o) => o.type === 'u2f').length,
      totpLocked: r.tfa?.totpLocked ?? false,
      // A lock that has run out (Proxmox keeps the time) locks nothing.
      lockedUntil: (r.tfa?.tfaLockedUntil ?? 0) > session.now() ? (r.tfa?.tfaLockedUntil ?? null) : null,
    })),
    settings,
    warnings,
  };
  if (dryRun) return plan;

  await session.store.transaction(async (tx) => {
    for (const realm of plannedRealms) await createRealm(session, tx, realm, input.realms?.find((r) => r.name === realm.name), key);
    for (const r of rows) await insertUser(session, tx, r);
    // The cluster's WebAuthn/U2F settings: the registrations only work with the RP id (appid) and
    // origin they were made for. tfa.cfg's own objects are also kept as they were, as before,
    // unless datacenter.cfg overrides them: the settings fall back to them (services/settings.ts),
    // and an overridden value must not come back that way.
    for (const p of settings) await tx.setSetting(p.key, p.value);
    if (input.tfa.webauthnConfig !== null && !input.datacenter?.webauthn) await tx.setSetting('proxmox.webauthn', safeJson(input.tfa.webauthnConfig));
    if (input.tfa.u2fConfig !== null && !input.datacenter?.u2f) await tx.setSetting('proxmox.u2f', safeJson(input.tfa.u2fConfig));
    await session.audit({
      action: 'import.proxmox',
      target: null,
      outcome: 'ok',
      detail: { realms: plannedRealms.length, users: rows.length, settings: Object.fromEntries(settings.map((p) => [p.key, p.value])) },
    }, tx);
  });
  return plan;
}

/**
 * The store settings the cluster's WebAuthn and U2F settings become. datacenter.cfg wins over
 * tfa.cfg's own objects (which PVE 7.0 and 7.1 kept), as in Proxmox, kind by kind; a value a
 * source does not give is not set. Warns about what tfactl will do differently from Proxmox.
 */
function plannedSettings(input: ProxmoxImportInput, warnings: string[]): PlannedSetting[] {
  const planned: PlannedSetting[] = [];
  const webauthn = pickSource(input.datacenter?.webauthn ?? null, input.tfa.webauthn, 'webauthn', warnings);
  if (webauthn) {
    planned.push({ key: 'webauthn.rp-id', value: webauthn.rpId, source: webauthn.source });
    if (webauthn.rpName !== null) planned.push({ key: 'webauthn.rp-name', value: webauthn.rpName, source: webauthn.source });
    if (webauthn.origin !== null) {
      planned.push({ key: 'webauthn.origin', value: formatOriginList([webauthn.origin]), source: webauthn.source });
      if (!originFitsRpId(webauthn.origin, webauthn.rpId)) {
        warnings.push(`${webauthn.source}: the origin ${webauthn.origin} is not on the RP id ${webauthn.rpId} or a subdomain of it: browsers refuse such a pair`);
      }
    } else {
      warnings.push(`${webauthn.source}: webauthn gives no origin (Proxmox took the address in the browser): set the addresses users sign in at with 'tfactl settings set webauthn.origin URL...'`);
    }
    if (webauthn.allowSubdomains === true) {
      warnings.push(`${webauthn.source}: allow-subdomains is on, but tfactl accepts only the exact origins of webauthn.origin: add the others with 'tfactl settings set webauthn.origin'`);
    }
  }
  const u2f = pickSource(input.datacenter?.u2f ?? null, input.tfa.u2f, 'u2f', warnings);
  if (u2f) {
    planned.push({ key: 'u2f.appid', value: u2f.appId, source: u2f.source });
    if (u2f.origin !== null) planned.push({ key: 'u2f.origin', value: u2f.origin, source: u2f.source });
  }
  return planned;
}

/** datacenter.cfg's settings of one kind when it gives them, else tfa.cfg's; says so when both differ. */
function pickSource<T extends ProxmoxWebauthnConfig | ProxmoxU2fConfig>(datacenter: T | null, tfaCfg: T | null, kind: string, warnings: string[]): T | null {
  if (datacenter && tfaCfg) {
    const { source: _a, ...fromDatacenter } = datacenter;
    const { source: _b, ...fromTfaCfg } = tfaCfg;
    if (JSON.stringify(fromDatacenter) !== JSON.stringify(fromTfaCfg)) {
      warnings.push(`tfa.cfg's ${kind} settings differ from those of ${datacenter.source}: datacenter.cfg's are imported, as Proxmox uses them`);
    }
  }
  return datacenter ?? tfaCfg;
}

async function createRealm(session: Session, tx: Store, planned: PlannedRealm, fromCfg: ProxmoxRealm | undefined, key: Buffer): Promise<void> {
  if (planned.action === 'exists') return;
  // Another process may have created it since the plan was made: then it stays as it is.
  if (!(await tx.insertRealm({ name: planned.name, comment: fromCfg?.comment ?? `imported from Proxmox (${fromCfg?.type ?? 'realm'})`, created: session.now() }))) return;
  const e = fromCfg?.enforcement;
  if (e?.kind === 'totp') await tx.setRealmEnforcement(planned.name, 'totp', e.params);
  if (e?.kind === 'yubico') {
    const config: YubicoRealmConfig = { mode: 'online', apiId: e.apiId, urls: [e.url] };
    const sealedApiKey = seal(key, session.random.bytes(12), e.apiKey, realmKeyContext(planned.name));
    await tx.setRealmEnforcement(planned.name, 'yubico', null);
    await tx.setRealmYubico(planned.name, { config, sealedApiKey });
  }
  await session.audit({ action: 'realm.add', target: planned.name, outcome: 'ok', detail: { via: 'import.proxmox', enforce: planned.enforce } }, tx);
}

async function insertUser(session: Session, tx: Store, r: UserRows): Promise<void> {
  const { user } = r;
  const realm = user.userid.slice(user.userid.lastIndexOf('@') + 1);
  const name = [user.firstname, user.lastname].filter(Boolean).join(' ');
  // Cut by code points: cutting UTF-16 units could leave half a surrogate pair, which is not text.
  const comment = [...[name, user.comment].filter(Boolean).join(', ')].slice(0, 256).join('') || null;
  const inserted = await tx.insertUser({ userid: user.userid, realm, admin: false, enabled: user.enabled, email: user.email, comment, expire: user.expire, passwordHash: null, created: session.now() });
  // Checked again here, inside the transaction: a concurrent import may have added the user since
  // the plan was made. Throwing rolls everything back, so nothing is half-imported.
  if (!inserted) throw new RefusedError(`${user.userid} was added to the store meanwhile; nothing imported`, 'exists');
  for (const t of r.totp) {
    await tx.insertTotpFactor(t.row);
    if (!t.enabled) await tx.setFactorEnabled(user.userid, t.row.id, false);
  }
  for (const y of r.yubico) {
    await tx.insertYubicoFactor(y.row);
    if (!y.enabled) await tx.setFactorEnabled(user.userid, y.row.id, false);
  }
  if (r.recovery) await tx.putRecoverySet(r.recovery, false);
  for (const c of r.credentials) {
    if (!(await tx.insertCredentialFactor(c))) throw new RefusedError(`${user.userid} has the same WebAuthn/U2F credential twice in tfa.cfg; nothing imported`, 'exists');
  }
  if (r.tfa && (r.tfa.totpLocked || r.tfa.tfaLockedUntil)) await tx.setLockState(user.userid, r.tfa.totpLocked, r.tfa.tfaLockedUntil ?? 0);
  await session.audit({ action: 'user.add', target: user.userid, outcome: 'ok', detail: { via: 'import.proxmox', totp: r.totp.length, yubico: r.yubico.length, recovery: r.recovery !== null } }, tx);
}

/**
 * One factor per TOTP secret and parameters: replay protection is per factor, so two such factors
 * would each accept a code. Of entries with the same secret and parameters the first is kept,
 * enabled if any of them was, with the latest step any of them had used.
 */
function onePerSecret(entries: readonly { row: NewTotpFactor; enabled: boolean; secret: string }[]): { kept: { row: NewTotpFactor; enabled: boolean }[]; dropped: number } {
  const bySecret = new Map<string, { row: NewTotpFactor; enabled: boolean }>();
  for (const e of entries) {
    // Only with the same parameters: steps of another period are not comparable, and its codes differ.
    const key = `${e.secret}/${e.row.params.algorithm}/${e.row.params.digits}/${e.row.params.period}`;
    const first = bySecret.get(key);
    if (first === undefined) {
      bySecret.set(key, { row: e.row, enabled: e.enabled });
      continue;
    }
    const steps = [first.row.lastStep, e.row.lastStep].filter((step): step is number => step !== null);
    bySecret.set(key, { row: { ...first.row, lastStep: steps.length > 0 ? Math.max(...steps) : null }, enabled: first.enabled || e.enabled });
  }
  const kept = [...bySecret.values()];
  return { kept, dropped: entries.length - kept.length };
}
