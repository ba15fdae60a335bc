/**
 * tfactl command lines suggested in messages (`fix: tfactl user passwd alice@local`), written so
 * that a POSIX shell reads them back as the words meant: a user id may hold `$`, `*` or `&`, or
 * start with `-`, which would otherwise expand, or be read as an option.
 */

/** A word as a POSIX shell reads it back: plain characters as they are, anything else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `tfactl COMMAND ARGS OPTIONS`, each argument a shell word; with an argument that starts with `-`,
 * `tfactl COMMAND OPTIONS -- ARGS` instead, so that it is not taken for an option. `options` are
 * tfactl's own, already as they should be typed.
 */
export function tfactlLine(command: string, args: readonly string[], options = ''): string {
  const words = args.map(shellWord);
  const tail = options === '' ? [] : [options];
  return ['tfactl', command, ...(args.some((a) => a.startsWith('-')) ? [...tail, '--', ...words] : [...words, ...tail])].join(' ');
}
