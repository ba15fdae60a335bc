import { readFileSync } from 'node:fs';
import { parseDomainsCfg, parseTfaCfg, parseUserCfg } from '../../domain/proxmox.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { table, type Style } from '../../output.js';
import { importProxmox, type ProxmoxImportPlan } from '../../services/proxmox-import.js';
import { openSession } from '../session.js';
import { boolOpt, stringOpt } from '../options.js';

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'file_error');
  }
}

export async function run(inv: Invocation): Promise<void> {
  const tfaPath = stringOpt(inv, 'tfaCfg');
  const userPath = stringOpt(inv, 'userCfg');
  if (tfaPath === undefined || userPath === undefined) throw new UsageError('give both --tfa-cfg and --user-cfg');
  const domainsPath = stringOpt(inv, 'domainsCfg');
  // Everything is parsed before the store is touched: a damaged file imports nothing.
  const input = {
    tfa: parseTfaCfg(read(tfaPath, 'tfa.cfg')),
    userCfg: parseUserCfg(read(userPath, 'user.cfg')),
    realms: domainsPath === undefined ? null : parseDomainsCfg(read(domainsPath, 'domains.cfg')),
  };
  const session = await openSession(inv, { op: 'store.manage', action: 'import.proxmox' });
  const plan = await importProxmox(session, input, boolOpt(inv, 'dryRun') === true);
  for (const w of plan.warnings) inv.out.warn(w);
  inv.out.result(plan, describe);
}

function describe(plan: ProxmoxImportPlan, style: Style): string {
  const verb = plan.dryRun ? 'would import' : 'imported';
  return [
    `${plan.dryRun ? style.yellow('dry run:') : style.green('done:')} ${verb} ${plan.realms.filter((r) => r.action === 'create').length} realm(s) and ${plan.users.length} user(s)`,
    '',
    table(['REALM', 'ACTION', 'ENFORCES'], plan.realms.map((r) => [r.name, r.action === 'create' ? (plan.dryRun ? 'create' : 'created') : 'exists', r.enforce]), style),
    '',
    plan.users.length === 0
      ? 'no users'
      : table(
          ['USER', 'ENABLED', 'TOTP', 'YUBIKEY', 'RECOVERY LEFT', 'WEBAUTHN', 'U2F', 'LOCKED'],
          plan.users.map((u) => [
            u.userid,
            u.enabled ? 'yes' : 'no',
            String(u.totp),
            String(u.yubico),
            u.recoveryKeysLeft === null ? '-' : String(u.recoveryKeysLeft),
            String(u.webauthn),
            String(u.u2f),
            u.lockedUntil ? 'all factors' : u.totpLocked ? 'TOTP' : 'no',
          ]),
          style,
        ),
  ].join('\n');
}
