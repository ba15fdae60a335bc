import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The most common passwords (zxcvbn-ts's list: 49,233 from leaked password sets, most common first,
 * lower case, ASCII), one per line. Read from the package here; the build puts the same text in a
 * file of its own beside the bundle (scripts/build.mjs), read only when a password is set, so no
 * other command loads it, and without the package's decompression (about 70 ms) at that time.
 */
export function commonPasswordText(): string {
  return dictionary['passwords-common'].join('\n');
}
