import { isRoot } from '../domain/permissions.js';
import { open, secretContext } from '../domain/secret-box.js';
import { ROOT_USERID } from '../domain/userid.js';
import { StoreError } from '../errors.js';
import type { RealmSummary } from '../store/types.js';
import type { UserFactors } from './factor-list.js';
import { authorize } from './authz.js';
import type { Listing, Session } from './session.js';
import { totpIssuer } from './settings.js';

export interface TotpExportEntry {
  readonly userid: string;
  readonly id: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly secret: string;
  readonly algorithm: string;
  readonly digits: number;
  readonly period: number;
  /** The issuer it was enrolled with; the `totp.issuer` setting for factors enrolled before tfactl kept it. */
  readonly issuer: string;
  readonly uri: string;
}

/**
 * Every TOTP secret in plain text, for moving to another system, read as consumed, each URI with the
 * issuer its factor was enrolled with (the user's app shows that one). Root and admins
 * only; root@local's own factors only for root@local (`leftOut`: how many of them an admin's export
 * does not hold, so that it is not taken for a whole one). Audited when the reading ends, with how
 * many secrets went out (and whether the export was cut short).
 */
export async function exportTotp(session: Session): Promise<{ entries: () => AsyncIterable<TotpExportEntry>; leftOut: number }> {
  await authorize(session, 'store.manage', 'export.totp');
  const { otpauthUri } = await import('../domain/totp.js');
  const key = await session.secretKey();
  const settingIssuer = await totpIssuer(session.store, session.hostname);
  const except = isRoot(session.actor) ? undefined : ROOT_USERID;
  const leftOut = except === undefined ? 0 : (await session.store.listFactors(except)).filter((f) => f.type === 'totp').length;
  const entries = async function* () {
    let factors = 0;
    let complete = false;
    try {
      for await (const { factor: f, secret: sealed } of session.store.totpFactors(except)) {
        const secret = open(key, sealed.sealedSecret, secretContext(f.userid, f.id, 'totp'));
        if (secret === null) throw new StoreError(`the TOTP secret of factor ${f.id} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
        factors++;
        const issuer = f.issuer ?? settingIssuer;
        yield {
          userid: f.userid,
          id: f.id,
          description: f.description,
          enabled: f.enabled,
          secret,
          ...f.params,
          issuer,
          uri: otpauthUri({ issuer, account: f.userid, secret, ...f.params }),
        };
      }
      complete = true;
    } finally {
      await session.audit({ action: 'export.totp', target: null, outcome: complete ? 'ok' : 'failed', detail: { factors, complete, ...(leftOut > 0 && { leftOut }) } });
    }
  };
  return { entries, leftOut };
}

export interface UsersExport {
  readonly realms: readonly RealmSummary[];
  readonly users: Listing<UserFactors>;
}

/** Realms, users and factor metadata: no password hash, no secret; users read as consumed. Admins only. */
export async function exportUsers(session: Session): Promise<UsersExport> {
  await authorize(session, 'store.read', 'export.users');
  return { realms: await session.store.listRealms(), users: () => session.store.usersWithFactors({}) };
}
