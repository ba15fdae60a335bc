import type { SignInChallenge } from '../../services/authenticate.js';

/**
 * What fido2-assert needs, a line a credential, for a terminal without a browser: for the
 * credentials the page cannot answer for (made for another RP id), or all when there is no page.
 */
export function fido2Instructions(offer: SignInChallenge, pageServed: boolean, then = 'and paste the line it prints at the prompt.'): string[] {
  const onPage = new Set(pageServed ? (offer.publicKey?.allowCredentials.map((c) => c.id) ?? []) : []);
  const entries = offer.fido2.flatMap((f) => {
    const [hash, rpId, credentialId] = f.input.trimEnd().split('\n') as [string, string, string];
    return onPage.has(Buffer.from(credentialId, 'base64').toString('base64url')) ? [] : [{ ...f, hash, rpId, credentialId }];
  });
  if (entries.length === 0) return [];
  const lines = [
    `${pageServed ? 'Or, for a security key' : 'With a security key'} on a computer with libfido2 (fido2-tools), run there (fido2-token -L lists the DEVICEs):`,
  ];
  for (const e of entries) {
    lines.push(`  printf '%s\\n' ${e.hash} '${e.rpId.replace(/'/g, `'\\''`)}' ${e.credentialId} | fido2-assert ${e.options.join(' ')} DEVICE | paste -sd ' '`);
  }
  lines.push(then);
  return lines;
}
