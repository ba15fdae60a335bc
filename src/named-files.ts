/**
 * The files a command line names, where someone other than the command's own user may be asked to
 * open them: a tfactl service for its client (src/remote), root for a user sudo runs tfactl for
 * (src/sudo-acting.ts). One list, so that neither forgets an option the other knows.
 */

/** Options whose `@FILE` value is a file to read; options that name a file to read (except `-`). */
const AT_FILE_OPTIONS = ['authCode', 'token', 'totpSecret', 'aesKey', 'privateId', 'apiKey', 'secret', 'code'];
const FILE_OPTIONS = ['response', 'tfaCfg', 'userCfg', 'domainsCfg', 'datacenterCfg'];

/** The flag as typed: `tfaCfg` is `--tfa-cfg`. */
export const flagOf = (option: string): string => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The files the command reads that its user named, each with the option (or argument) naming it. */
export function namedInputFiles(command: string, args: readonly string[], opts: Readonly<Record<string, unknown>>): { readonly path: string; readonly named: string }[] {
  const files: { path: string; named: string }[] = [];
  for (const k of AT_FILE_OPTIONS) {
    const v = opts[k];
    if (typeof v === 'string' && v.length > 1 && v.startsWith('@')) files.push({ path: v.slice(1), named: `${flagOf(k)} @FILE` });
  }
  for (const k of FILE_OPTIONS) {
    const v = opts[k];
    if (typeof v === 'string' && v !== '-') files.push({ path: v, named: flagOf(k) });
  }
  const source = args[0];
  if (command === 'user import' && source !== undefined && source !== '-') files.push({ path: source, named: 'user import FILE' });
  return files;
}

/** The option of the command line that writes a file (`--output`, `--results`, `--qr png:FILE`), or null. */
export function writtenFileFlag(opts: Readonly<Record<string, unknown>>): string | null {
  if (typeof opts.output === 'string') return '--output';
  if (typeof opts.recoveryOutput === 'string') return '--recovery-output';
  if (typeof opts.results === 'string') return '--results';
  if (typeof opts.qr === 'string' && /^(png|svg):/i.test(opts.qr)) return `--qr ${opts.qr.slice(0, 3).toLowerCase()}:FILE`;
  return null;
}
