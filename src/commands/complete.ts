import { statSync } from 'node:fs';
import type { Invocation } from '../invocation.js';
import { completionCandidates, type CompletionCandidate, type CompletionKind } from '../services/completion.js';
import { isPostgresUrl } from '../domain/store-location.js';
import { keyPathOf, storePath } from './session.js';
import { runBySudoForAnother } from '../sudo-acting.js';

/**
 * `tfactl __complete users [TYPED] | factors USERID | realms | settings`: what the completion scripts offer for
 * user ids (those that start with TYPED), factor ids and realms, one a line (a tab, then a
 * description, where there is one).
 * It answers at once and never fails: it never prompts, never creates or migrates a store, and
 * prints nothing (exit 0) when the store is missing, unreadable or busy, or when this OS user does
 * not own it. Only the owner (or root) is answered, seeing everything as root@local would: --as
 * and TFACTL_AS are not used, so completion never signs anyone in. Root run by sudo for another
 * user (a sudo rule for `tfactl --as`) is not the owner: that user would see every user and
 * factor without signing in (a shell's completion runs as its user, not through sudo, anyway).
 */
export async function run(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  let candidates: CompletionCandidate[] = [];
  try {
    const path = storePath(inv);
    // The owner: of the store file, or (PostgreSQL) of the key file.
    if (runBySudoForAnother(ctx)) {
      // Nothing: see above.
    } else if (ctx.uid === 0 || statSync(isPostgresUrl(path) ? keyPathOf(inv, path) : path).uid === ctx.uid) {
      const { store } = await ctx.openStore(path, { now: ctx.clock.nowSeconds(), keyPath: keyPathOf(inv, path), readOnly: true });
      try {
        candidates = await completionCandidates(store, inv.args[0] as CompletionKind, inv.args[1]);
      } finally {
        store.close();
      }
    }
  } catch {
    // Nothing to offer: a shell waiting for completions shows no error.
  }
  inv.out.result(candidates, (list) => list.map((c) => (c.description ? `${c.value}\t${c.description}` : c.value)).join('\n'));
}
