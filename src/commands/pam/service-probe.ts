import { describeErrno } from '../../domain/errno.js';
import type { PresentedToken } from '../../domain/api-token.js';
import { tfactlLine } from '../../domain/command-line.js';
import { ROOT_USERID } from '../../domain/userid.js';

/** How long each question to the service may take: a service that does not answer is said so. */
const PROBE_TIMEOUT_MS = 5000;

/** What a command run through the service's POST /api/v1/run answered: its envelope, or why none came. */
type Answer = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly code: string; readonly message: string } | { readonly unreachable: string };

/** Asks the service at `address` (its socket, or https://HOST:PORT) to run `args` as the token. */
async function ask(address: string, token: string, args: readonly string[]): Promise<Answer> {
  const body = JSON.stringify({ args });
  const url = address.startsWith('/') ? null : new URL(address);
  const { request } = url === null ? await import('node:http') : await import('node:https');
  return new Promise((resolve) => {
    const req = request(
      {
        ...(url === null ? { socketPath: address, host: 'localhost' } : { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443) }),
        path: '/api/v1/run',
        method: 'POST',
        agent: false,
        timeout: PROBE_TIMEOUT_MS,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
            if (envelope.ok === true) resolve({ ok: true, result: envelope.result });
            else resolve({ ok: false, code: String(envelope.error?.code ?? ''), message: String(envelope.error?.message ?? `HTTP ${res.statusCode}`) });
          } catch {
            resolve({ unreachable: `what answers is no tfactl service (HTTP ${res.statusCode})` });
          }
        });
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ unreachable: describeErrno(e.code, e.message) }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ unreachable: describeErrno(e.code, e.message) }));
    req.end(body);
  });
}

const FAILS = 'every sign-in through these lines fails';

/**
 * What would make every sign-in through `pam config --server` lines fail, asked of the service
 * itself as the lines' token: no service answering there, the token refused, the realm missing,
 * the token's user no admin (the service checks other users' sign-ins for admins only), or a date
 * after which the token or its user stops working. Warnings, not refusals: the lines may well be
 * written before the service starts.
 */
export async function serviceProblems(address: string, token: PresentedToken & { readonly text: string }, realm: string, nullok = false): Promise<string[]> {
  const realmShown = await ask(address, token.text, ['realm', 'show', realm]);
  if ('unreachable' in realmShown) return [`no tfactl service answers at ${address}: ${realmShown.unreachable}; ${FAILS} until one does`];
  const notAdmin = `the token acts for ${token.userid}, who is not an admin: the service refuses every check through these lines (give an admin's token)`;
  if (!realmShown.ok && realmShown.code === 'permission_denied') return [notAdmin];
  if (!realmShown.ok && realmShown.code !== 'not_found') return [`the service at ${address} refuses the token: ${realmShown.message}; ${FAILS}`];
  const problems = realmShown.ok ? [] : [`${realmShown.message}: ${FAILS} until it is there`];
  const user = await ask(address, token.text, ['user', 'show', token.userid]);
  if ('ok' in user && user.ok) {
    const u = user.result as { admin?: unknown; expire?: unknown };
    if (u.admin !== true) problems.push(notAdmin);
    if (typeof u.expire === 'string') problems.push(`the token's user ${token.userid} expires after ${u.expire}: ${FAILS} from then on`);
  }
  const tokens = await ask(address, token.text, ['token', 'list', token.userid]);
  if ('ok' in tokens && tokens.ok && Array.isArray(tokens.result)) {
    const mine = (tokens.result as { name?: unknown; expires?: unknown }[]).find((t) => t.name === token.name);
    if (typeof mine?.expires === 'string') problems.push(`the token ${token.userid}!${token.name} expires after ${mine.expires}: ${FAILS} from then on`);
  }
  // As on the store (pam config's realmMissing): the login name root is root@local in realm local.
  if (realm === 'local' && !nullok) {
    const root = await ask(address, token.text, ['tfa', 'list', ROOT_USERID]);
    const factors = 'ok' in root && root.ok && Array.isArray(root.result) ? (root.result[0] as { factors?: { enabled?: unknown }[] } | undefined)?.factors : undefined;
    if (Array.isArray(factors) && !factors.some((f) => f.enabled === true)) problems.push(rootWithoutFactor());
  }
  return problems;
}

/** Said when the lines would check root's SSH sign-ins and root@local has no second factor. */
export function rootWithoutFactor(): string {
  return `the login name root is ${ROOT_USERID}, who has no second factor: root's sign-ins through these lines are refused until it has one (${tfactlLine('tfa add totp', [ROOT_USERID])})`;
}
