import { isoTime } from '../../domain/dates.js';
import { parseDatacenterCfg, parseDomainsCfg, parseTfaCfg, parseUserCfg } from '../../domain/proxmox.js';
import { countOf, decodeUtf8, firstInvalidLine } from '../../domain/text.js';
import { UsageError } from '../../errors.js';
import { INPUT_LIMITS } from '../../files.js';
import type { Invocation } from '../../invocation.js';
import { table, type Style } from '../../output.js';
import { importProxmox, type ProxmoxImportPlan } from '../../services/proxmox-import.js';
import { openSession } from '../session.js';
import { boolOpt, fileOpt, inputFiles } from '../options.js';

/** A Proxmox file as text; one that is not UTF-8 (Proxmox writes UTF-8) is refused, naming the line. */
function read(inv: Invocation, path: string, flag: string): string {
  const text = decodeUtf8(inputFiles(inv).read(path, { name: `the ${flag} file`, maxBytes: INPUT_LIMITS.proxmoxFile }));
  const line = firstInvalidLine(text);
  if (line !== null) throw new UsageError(`the ${flag} file ${path}: line ${line} is not valid UTF-8`, 'invalid_proxmox_config');
  // Proxmox never writes user.cfg empty (it holds root@pam at least): a file cut off, or the wrong
  // one, would import nothing and say it did. (An empty tfa.cfg is a cluster where no one has a factor.)
  if (flag === '--user-cfg' && text.trim() === '') throw new UsageError(`the ${flag} file ${path} is empty: a file cut off, or the wrong one (Proxmox's user.cfg holds root@pam at least)`, 'invalid_proxmox_config');
  return text;
}

export async function run(inv: Invocation): Promise<void> {
  const tfaPath = fileOpt(inv, 'tfaCfg', '--tfa-cfg');
  const userPath = fileOpt(inv, 'userCfg', '--user-cfg');
  if (tfaPath === undefined || userPath === undefined) throw new UsageError('give both --tfa-cfg and --user-cfg');
  const domainsPath = fileOpt(inv, 'domainsCfg', '--domains-cfg');
  const datacenterPath = fileOpt(inv, 'datacenterCfg', '--datacenter-cfg');
  // Everything is read, then parsed, before the store is touched: a damaged file imports nothing.
  const tfaText = read(inv, tfaPath, '--tfa-cfg');
  const userText = read(inv, userPath, '--user-cfg');
  const domainsText = domainsPath === undefined ? null : read(inv, domainsPath, '--domains-cfg');
  const datacenterText = datacenterPath === undefined ? null : read(inv, datacenterPath, '--datacenter-cfg');
  const input = {
    tfa: parseTfaCfg(tfaText),
    userCfg: parseUserCfg(userText),
    realms: domainsText === null ? null : parseDomainsCfg(domainsText),
    datacenter: datacenterText === null ? null : parseDatacenterCfg(datacenterText),
  };
  const session = await openSession(inv, { op: 'store.manage', action: 'import.proxmox' }, { creates: boolOpt(inv, 'dryRun') !== true });
  const plan = await importProxmox(session, input, boolOpt(inv, 'dryRun') === true);
  for (const w of plan.warnings) inv.out.warn(w);
  inv.out.result(planView(plan), describe);
}

/** The plan as --json shows it: times as ISO strings; the warnings are the envelope's. */
function planView(plan: ProxmoxImportPlan) {
  return {
    dryRun: plan.dryRun,
    realms: plan.realms.map((r) => ({ name: r.name, action: r.action, enforce: r.enforce })),
    users: plan.users.map((u) => ({ ...u, lockedUntil: u.lockedUntil ? isoTime(u.lockedUntil) : null })),
    settings: plan.settings.map((s) => ({ key: s.key, value: s.value, source: s.source })),
  };
}

function describe(plan: ReturnType<typeof planView>, style: Style): string {
  const verb = plan.dryRun ? 'would import' : 'imported';
  const settings =
    plan.settings.length === 0
      ? []
      : ['', table([plan.dryRun ? 'SETTING (WOULD BE SET)' : 'SETTING (SET)', 'VALUE', 'FROM'], plan.settings.map((s) => [s.key, s.value, s.source]), style)];
  return [
    `${plan.dryRun ? style.yellow('dry run:') : style.green('done:')} ${verb} ${countOf(plan.realms.filter((r) => r.action === 'create').length, 'realm')}, ${countOf(plan.users.length, 'user')} and ${countOf(plan.settings.length, 'setting')}`,
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
    ...settings,
  ].join('\n');
}
