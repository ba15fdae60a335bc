import { UsageError } from '../errors.js';
import { KiB } from '../files.js';
import type { Invocation } from '../invocation.js';
import { secretsOf } from './credentials.js';
import { inputFiles } from './options.js';

/** The most tfactl reads of an answer given with --response (a code, or a browser's answer: a few KiB). */
export const RESPONSE_MAX_BYTES = 64 * KiB;

/**
 * The answer --response names (`login --finish`, `tfa add webauthn --finish`): one line of
 * standard input (-), or a regular file of at most RESPONSE_MAX_BYTES.
 */
export async function readResponse(inv: Invocation, response: string, what: string): Promise<string> {
  if (response === '-') return secretsOf(inv).nextLine(what, '--response');
  const text = inputFiles(inv).read(response, { name: 'the --response file', maxBytes: RESPONSE_MAX_BYTES }).toString('utf8').trim();
  if (text === '') throw new UsageError(`the --response file ${response} is empty`);
  return text;
}
