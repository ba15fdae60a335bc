import { type CodeKind, describeOffer } from '../domain/second-factor.js';
import { parseUserId } from '../domain/userid.js';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';
import { authenticate } from '../services/authenticate.js';
import { SecretSource } from '../services/secrets.js';
import { openStore, secretKeyLoader } from '../services/session.js';
import { requireSecretInput, stringOpt } from './options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(inv.args[0] ?? '').id;
  const code = stringOpt(inv, 'code');
  // commander has checked --type against its choices (cli.ts).
  const kind = stringOpt(inv, 'type') as CodeKind | undefined;
  requireSecretInput(inv, `the password of ${userid}`);

  const { ctx, out } = inv;
  const { store, keyPath } = await openStore(inv);
  const secrets = new SecretSource(ctx, (inv.opts as GlobalOptions).passwordStdin === true);
  const signedIn = await authenticate(
    {
      store,
      now: () => ctx.clock.nowSeconds(),
      secretKey: secretKeyLoader(store, keyPath),
      randomBytes: (n) => ctx.random.bytes(n),
      audit: (entry) => store.appendAudit({ ...entry, ts: ctx.clock.nowSeconds(), actor: userid }),
    },
    userid,
    {
      password: () => secrets.read(`the password of ${userid}`),
      secondFactor: async (offer) => {
        if (code !== undefined) return { code, kind };
        if (!ctx.io.stdinIsTTY) throw new UsageError(`${userid} needs a second factor: give it with --code (a ${describeOffer(offer)})`, 'no_tty');
        const prompt = offer.kinds.includes('totp') && offer.kinds.length === 1 ? 'TOTP code' : describeOffer(offer);
        return { code: await ctx.prompter.password(`${prompt} for ${userid}:`), kind };
      },
    },
    'login',
  );
  for (const w of signedIn.warnings) out.warn(w);
  out.result({ userid, method: signedIn.method, recoveryKeysLeft: signedIn.recoveryLeft }, (r, style) =>
    `${style.green('signed in')} as ${r.userid} (${r.method === 'password' ? 'password only' : r.method === 'totp' ? 'TOTP' : r.method === 'yubico' ? 'YubiKey' : 'recovery key'})`,
  );
}
