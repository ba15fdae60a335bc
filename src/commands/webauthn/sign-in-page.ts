import type { Invocation } from '../../invocation.js';
import type { RequestOptionsJSON, SecondFactorAnswer, SignInChallenge } from '../../services/authenticate.js';
import { runLoopbackPage } from './loopback.js';

/**
 * The second factor of a sign-in at a terminal when a security key may answer: the loopback page
 * (RP id localhost) in the browser, and at the same time, on a terminal, a prompt for a code or
 * for fido2-assert's line. Whichever answers first is the answer; the other is taken back. The
 * page waits for the verdict, so it shows whether the sign-in succeeded.
 */
export interface KeySignIn {
  readonly answer: Promise<SecondFactorAnswer>;
  /** Tells the page how the sign-in ended (an error: its message), and closes it. */
  settle(error?: unknown): Promise<void>;
}

export interface KeySignInOptions {
  readonly userid: string;
  /** Serve the page: the offer has request options for RP id localhost. */
  readonly page: boolean;
  /** Also ask on the terminal (a TTY): a code, or fido2-assert's line. */
  readonly prompt: string | null;
  readonly open: boolean;
}

export function startKeySignIn(inv: Invocation, offer: SignInChallenge, options: KeySignInOptions): KeySignIn {
  let verdict!: { resolve: () => void; reject: (e: unknown) => void };
  const settled = new Promise<void>((resolve, reject) => (verdict = { resolve, reject }));
  settled.catch(() => undefined);
  const pageAbort = new AbortController();
  const promptAbort = new AbortController();

  let page: Promise<void> = Promise.resolve();
  const fromPage = new Promise<SecondFactorAnswer>((resolve, reject) => {
    if (!options.page || !offer.publicKey) return;
    page = runLoopbackPage(inv, {
      kind: 'authentication',
      publicKey: offer.publicKey as RequestOptionsJSON as never,
      prompt: { heading: 'Sign in with a security key', facts: [['User', options.userid], ['On', `tfactl on ${inv.ctx.hostname}`]] },
      open: options.open,
      signal: pageAbort.signal,
      successMessage: 'Signed in. You can close this page and go back to the terminal.',
      finish: async (answer, origin) => {
        resolve({ code: JSON.stringify(answer), loopbackOrigin: origin });
        await settled;
      },
    }).catch((e: unknown) => {
      // A page taken back because the terminal answered is no failure.
      if (!pageAbort.signal.aborted) reject(e);
    });
  });
  fromPage.catch(() => undefined);

  const fromPrompt = new Promise<SecondFactorAnswer>((resolve, reject) => {
    if (options.prompt === null) return;
    inv.ctx.prompter.password(options.prompt, { signal: promptAbort.signal }).then(
      (code) => resolve({ code }),
      (e: unknown) => {
        if (!promptAbort.signal.aborted) reject(e);
      },
    );
  });
  fromPrompt.catch(() => undefined);

  const answer = Promise.race([fromPage, fromPrompt]);
  // Whichever did not answer is taken back: the prompt at once, the page unless it answered (it
  // stays to show the verdict).
  answer.then(
    (a) => {
      promptAbort.abort();
      if (a.loopbackOrigin === undefined) pageAbort.abort();
    },
    () => {
      promptAbort.abort();
      pageAbort.abort();
    },
  );
  return {
    answer,
    async settle(error?: unknown) {
      if (error === undefined) verdict.resolve();
      else verdict.reject(error);
      pageAbort.abort();
      await page;
    },
  };
}
