import { checkText } from '../../domain/text.js';
import { validationUrlProblem } from '../../domain/validation-url.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import type { YubicoEnforcement } from '../../services/realms.js';
import { DEFAULT_VALIDATION_URLS } from '../../services/yubico.js';
import { boolOpt, listOpt, secretOpt, stringOpt } from '../options.js';

/** Reads --offline or --api-id/--api-key/--url...; null when none of them is given. */
export function yubicoValidation(inv: Invocation): YubicoEnforcement | null {
  const apiId = stringOpt(inv, 'apiId');
  const apiKey = secretOpt(inv, 'apiKey', '--api-key');
  const urls = listOpt(inv, 'url');
  const offline = boolOpt(inv, 'offline') === true;
  if (!offline && apiId === undefined && apiKey === undefined && urls.length === 0) return null;
  if (offline) {
    if (apiId !== undefined || apiKey !== undefined || urls.length > 0) throw new UsageError('--offline does not take --api-id, --api-key or --url', 'conflicting_options');
    return { mode: 'offline' };
  }
  if (apiId === undefined || apiKey === undefined) {
    throw new UsageError('a validation service needs both --api-id and --api-key (or use --offline)');
  }
  // Starting with a letter or digit: not an option (--api-id=--json), as the service's client ids are.
  if (!/^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/.test(apiId)) throw new UsageError('invalid --api-id: a client id such as 12345', 'invalid_yubico');
  const key = Buffer.from(apiKey, 'base64');
  // A service's key is 20 bytes (Yubico's); up to 64 taken, nothing the size of a file.
  if (key.length < 16 || key.length > 64 || key.toString('base64').replace(/=+$/, '') !== apiKey.replace(/=+$/, '')) {
    throw new UsageError('invalid --api-key: expected the base64 key the validation service issued', 'invalid_yubico');
  }
  for (const url of urls) {
    // The URL is stored and shown as given (the URL parser would drop tabs and newlines unseen).
    checkText(url, '--url', Infinity);
    const problem = validationUrlProblem(url);
    // realm show and list print the URLs: a password in one would be shown to every admin (and a
    // URL that may hold one is not repeated in the error either).
    // An @ anywhere is refused here, where it is typed (a URL the parser reads otherwise may still hold one).
    if (problem === 'credentials' || url.includes('@')) throw new UsageError('invalid --url: it may not hold a user or password (realm show prints it); the API key signs the requests', 'invalid_yubico');
    // Not repeated unless it looks like a URL: an API key given in its place would be.
    const shown = url.includes('://') ? JSON.stringify(url) : `of ${[...url].length} characters`;
    if (problem === 'not-http') throw new UsageError(`invalid --url ${shown}: expected an http(s) URL of a /wsapi/2.0/verify endpoint`, 'invalid_yubico');
  }
  return { mode: 'online', apiId, apiKey, urls: urls.length > 0 ? urls : DEFAULT_VALIDATION_URLS };
}
