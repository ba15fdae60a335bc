import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * The JSON Schemas in schemas/ (one per command result, shared shapes in defs.json, the envelope
 * in envelope.json), compiled once. Every --json output a test sees is checked against them by the
 * harness, so a shape that drifts from its schema fails whichever test produced it.
 */
export const SCHEMA_DIR = resolve(import.meta.dirname, '..', 'schemas');

const ajv = new Ajv2020({ allErrors: true, strict: true });
const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'));
for (const f of files) ajv.addSchema(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')) as object, f.replace(/\.json$/, ''));

/** Names of the per-command result schemas: `user-add`, `tfa-list`, `version`... */
export const RESULT_SCHEMAS = new Set(files.map((f) => f.replace(/\.json$/, '')).filter((n) => n !== 'defs' && n !== 'envelope'));

function check(name: string, value: unknown, what: string): void {
  const validate = ajv.getSchema(name);
  if (!validate) throw new Error(`no schema ${name}.json for ${what}`);
  if (!validate(value)) throw new Error(`${what} does not match schemas/${name}.json: ${ajv.errorsText(validate.errors, { dataVar: 'result' })}`);
}

/** The groups that have a default command, and the schema of what it prints. */
const DEFAULT_COMMANDS: Readonly<Record<string, string>> = { audit: 'audit-list' };

const GLOBAL_WITH_VALUE = new Set(['--db', '--as', '--auth-code', '--token', '--server']);

/** The command an argument list runs (`user-add`), by the longest run of words naming a schema. */
export function commandOf(args: readonly string[]): string | undefined {
  if (args.includes('--version') || args.includes('-V')) return 'version';
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (GLOBAL_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    words.push(a);
    if (words.length === 3) break;
  }
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).join('-');
    if (RESULT_SCHEMAS.has(name)) return name;
    // A group that runs one of its commands when none is named: `tfactl audit` is `audit list`.
    if (n === 1 && DEFAULT_COMMANDS[name] !== undefined) return DEFAULT_COMMANDS[name];
  }
  return undefined;
}

/**
 * Checks what tfactl printed with --json: exactly one envelope, and the command's result (also the
 * `result` an error envelope carries) as its schema says.
 */
export function checkJsonOutput(args: readonly string[], stdout: string): void {
  if (stdout.trim() === '') return;
  const lines = stdout.trimEnd().split('\n');
  if (lines.length !== 1) throw new Error(`--json printed ${lines.length} lines, not one envelope`);
  const envelope = JSON.parse(stdout) as { ok: boolean; result?: unknown };
  check('envelope', envelope, 'the envelope');
  if (envelope.result === undefined) return;
  const command = commandOf(args);
  if (command === undefined) throw new Error(`no result schema for the command in ${JSON.stringify(args)}`);
  check(command, envelope.result, `the result of ${command}`);
}
