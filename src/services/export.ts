import { isRoot } from '../domain/permissions.js';
import { open, secretContext } from '../domain/secret-box.js';
import { ROOT_USERID } from '../domain/userid.js';
import { StoreError } from '../errors.js';
import type { FactorRecord, RealmRecord, UserRecord } from '../store/types.js';
import { authorize } from './authz.js';
import type { Session } from './session.js';
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
  readonly uri: string;
}

/**
 * Every TOTP secret in plain text, for moving to another system. Root and admins only, audited;
 * root@local's own factors only for root@local.
 */
export async function exportTotp(session: Session): Promise<TotpExportEntry[]> {
  await authorize(session, 'store.manage', 'export.totp');
  const { otpauthUri } = await import('../domain/totp.js');
  const key = await session.secretKey();
  const issuer = await totpIssuer(session.store, session.hostname);
  const users = (await session.store.listUsers()).filter((u) => isRoot(session.actor) || u.userid !== ROOT_USERID);
  const entries: TotpExportEntry[] = [];
  for (const user of users) {
    const factors = (await session.store.listFactors(user.userid)).filter((f) => f.type === 'totp');
    const secrets = await session.store.getTotpSecrets(user.userid, true);
    for (const f of factors) {
      const sealed = secrets.find((s) => s.id === f.id);
      const secret = sealed && open(key, sealed.sealedSecret, secretContext(user.userid, f.id, 'totp'));
      if (!sealed || !secret || !f.totp) throw new StoreError(`the TOTP secret of factor ${f.id} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
      entries.push({
        userid: user.userid,
        id: f.id,
        description: f.description,
        enabled: f.enabled,
        secret,
        ...f.totp,
        uri: otpauthUri({ issuer, account: user.userid, secret, ...f.totp }),
      });
    }
  }
  await session.audit({ action: 'export.totp', target: null, outcome: 'ok', detail: { factors: entries.length } });
  return entries;
}

export interface UsersExport {
  readonly realms: readonly RealmRecord[];
  readonly users: readonly (UserRecord & { readonly factors: readonly FactorRecord[] })[];
}

/** Realms, users and factor metadata: no password hash, no secret. Admins only. */
export async function exportUsers(session: Session): Promise<UsersExport> {
  await authorize(session, 'store.manage', 'export.users');
  const [realms, users, factors] = await Promise.all([session.store.listRealms(), session.store.listUsers(), session.store.listFactors()]);
  return { realms, users: users.map((u) => ({ ...u, factors: factors.filter((f) => f.userid === u.userid) })) };
}
