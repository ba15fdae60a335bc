import { UsageError } from '../../errors.js';
import { shownIfFieldName } from '../../domain/userid.js';

/**
 * What a client sends to POST /api/v1/pam/check and /api/v1/pam/prompt, an HTML form
 * (application/x-www-form-urlencoded: what `curl --data-urlencode` makes of a shell variable or a
 * file, whatever it holds), read as the `pam check` or `pam prompt` run it asks for: the command
 * line pam_exec would have run, the PAM items it would have set, and the answer it would have
 * written on standard input.
 */
export interface PamForm {
  /** `pam check --realm=REALM [--nullok] [--password]`: one word per option, whatever the realm holds. */
  readonly args: readonly string[];
  /** PAM_USER, PAM_SERVICE, PAM_RHOST, PAM_TTY, PAM_TYPE, as pam_exec sets them. */
  readonly env: Readonly<Record<string, string>>;
  /** What the user typed (check only), as pam_exec writes it. */
  readonly answer: string;
  /** The API token's text, as its file holds it (`token@FILE`), trimmed: undefined when not sent. */
  readonly token: string | undefined;
}

/** The form's fields that carry a PAM item, by the variable pam_exec puts it in. */
const ITEMS = { user: 'PAM_USER', service: 'PAM_SERVICE', rhost: 'PAM_RHOST', tty: 'PAM_TTY', type: 'PAM_TYPE' } as const;
const FLAGS = { nullok: '--nullok', password: '--password' } as const;

/** Reads the form `body` of a request for `pam <command>`; a UsageError (invalid_body) says what is wrong. */
export function parsePamForm(body: string, command: 'check' | 'prompt'): PamForm {
  const allowed = new Set<string>([...Object.keys(ITEMS), 'realm', 'token', 'password', 'nullok', ...(command === 'check' ? ['answer'] : [])]);
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (!allowed.has(name)) throw invalid(`unknown field ${shownIfFieldName(name)} for pam ${command}: the fields are ${[...allowed].join(', ')}`);
    if (fields.has(name)) throw invalid(`the field ${name} is given twice`);
    fields.set(name, value);
  }
  const args = ['pam', command];
  const realm = fields.get('realm');
  // One word: a realm that starts with a dash is still the realm's value.
  if (realm !== undefined) args.push(`--realm=${realm}`);
  for (const [name, flag] of Object.entries(FLAGS)) {
    const value = fields.get(name);
    if (value === undefined) continue;
    if (value !== '1') throw invalid(`the field ${name} is 1 or left out`);
    args.push(flag);
  }
  const env: Record<string, string> = {};
  for (const [name, variable] of Object.entries(ITEMS)) {
    const value = fields.get(name);
    if (value !== undefined) env[variable] = value;
  }
  return { args, env, answer: fields.get('answer') ?? '', token: tokenText(fields.get('token')) };
}

/** A token file's text as `--token @FILE` reads it: a byte-order mark and blanks around it dropped, one line. */
function tokenText(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const value = text.replace(/^\uFEFF/, '').trim();
  if (value === '') throw invalid('the field token is empty');
  if (/[\r\n]/.test(value)) throw invalid('the field token must hold one line');
  return value;
}

const invalid = (message: string) => new UsageError(message, 'invalid_body');
