import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import type { CeremonyAnswerJSON, CeremonyKind, CeremonyOptionsJSON, CeremonyPrompt } from './loopback-server.js';
import { startLoopbackCeremony } from './loopback-server.js';
import { pageUsersOfThisProcess } from './page-peer.js';
import { ceremonyHintLines, ceremonyHints, openBrowser } from './hints.js';

/**
 * The WebAuthn loopback page as the command layer uses it: a command (`tfa add webauthn`, `login`)
 * loads this module lazily, starts the ceremony, prints the hints, opens a browser where there is
 * a desktop, and awaits the result. Loading it costs node:http and node:child_process, which no
 * other command needs.
 */
export {
  CEREMONY_ANSWER_MAX_BYTES,
  CEREMONY_TIMEOUT_MS,
  startLoopbackCeremony,
  type CeremonyAnswerJSON,
  type CeremonyKind,
  type CeremonyOptionsJSON,
  type CeremonyPayloads,
  type CeremonyPrompt,
  type LoopbackCeremony,
  type LoopbackCeremonyOptions,
} from './loopback-server.js';
import { runBySudoForAnother } from '../../sudo-acting.js';
export { ceremonyHintLines, ceremonyHints, openBrowser, type CeremonyHints, type CeremonyHintsInput } from './hints.js';


/** A --port value: 1 to 65535. */
export function parsePort(text: string): number {
  if (!/^[1-9]\d{0,4}$/.test(text) || Number(text) > 65_535) throw new UsageError(`invalid --port ${JSON.stringify(text)}: give a port from 1 to 65535`);
  return Number(text);
}

export interface PageRun<K extends CeremonyKind, R> {
  readonly kind: K;
  readonly publicKey: CeremonyOptionsJSON<K>;
  readonly prompt: CeremonyPrompt;
  readonly port?: number | undefined;
  /** False with --no-open: never start a browser. */
  readonly open: boolean;
  readonly successMessage?: string;
  /** Aborting it closes the page (the result: a CancelledError, unless an answer is being checked). */
  readonly signal?: AbortSignal;
  /** Checks the answer; `origin` is the page's own (http://localhost:PORT). */
  finish(answer: CeremonyAnswerJSON<K>, origin: string): Promise<R>;
}

/**
 * Runs a ceremony on the loopback page for a command: serves it, says where it is (and the SSH
 * tunnel to it), opens the desktop's browser, counts down on a terminal, and waits for the answer
 * (at most 120 s). Ctrl-C closes the page and cancels.
 */
export async function runLoopbackPage<K extends CeremonyKind, R>(inv: Invocation, run: PageRun<K, R>): Promise<R> {
  let origin = '';
  const remote = inv.ctx.remote !== undefined;
  const ceremony = await startLoopbackCeremony({
    kind: run.kind,
    publicKey: run.publicKey,
    prompt: run.prompt,
    random: inv.ctx.random,
    port: run.port,
    successMessage: run.successMessage,
    // Through a tfactl service the page is the service's, and its client a local user it cannot
    // name (it knows them by their sign-in, not their uid): their browser is answered by the path.
    pageUsers: remote ? 'any' : pageUsersOfThisProcess(inv.ctx.env),
    onStranger: (uid: number | undefined) =>
      inv.out.warn(`refused a connection to the page from another user of this machine${uid === undefined ? '' : ` (uid ${uid})`}: only yours are answered`),
    onCountdown: (left) => inv.out.status(`waiting for the browser: ${left} s left (Ctrl-C cancels)`),
    finish: (answer: CeremonyAnswerJSON<K>) => run.finish(answer, origin),
  } as Parameters<typeof startLoopbackCeremony<K, R>>[0] & { finish: (answer: CeremonyAnswerJSON<K>) => Promise<R> });
  origin = ceremony.origin;
  // Ctrl-C: said as any interruption is, not as a page that was closed.
  const stop = inv.ctx.io.onInterrupt(() => void ceremony.close('interrupted'));
  const abort = () => void ceremony.close();
  run.signal?.addEventListener('abort', abort);
  if (run.signal?.aborted) abort();
  try {
    // A service opens no browser for its client: it would run on the service's side, as its user,
    // with the page's secret path in its command line. Nor does root run by sudo for another user:
    // a browser of root's on that user's display (sudo may keep DISPLAY) has root's file dialogs.
    const hints = ceremonyHints({ url: ceremony.url, port: ceremony.port, env: inv.ctx.env, platform: process.platform, open: run.open && !remote && !runBySudoForAnother(inv.ctx) });
    for (const line of ceremonyHintLines(hints)) inv.out.instruct(line);
    if (hints.browser) openBrowser(hints.browser, inv.ctx.env);
    return await ceremony.result;
  } finally {
    stop();
    run.signal?.removeEventListener('abort', abort);
    inv.out.status('');
    await ceremony.close();
  }
}
