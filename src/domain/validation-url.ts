/**
 * What is wrong with `url` as a YubiKey validation service's URL tfactl keeps, or null: an http(s)
 * URL without a user or password in it (`realm show` prints the URLs; the API key signs the
 * requests). An `@` elsewhere (`?client=pve@corp`, as Proxmox imports keep) is no user. Pure.
 */
export function validationUrlProblem(url: string): 'credentials' | 'not-http' | null {
  let parsed: URL | null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) return 'not-http';
  if (parsed.username !== '' || parsed.password !== '') return 'credentials';
  return null;
}

/**
 * What is wrong with a realm's stored list of validation URLs (JSON), or null: a list of one or
 * more URLs, each as validationUrlProblem takes it. Never repeats a URL.
 */
export function storedValidationUrlsProblem(json: string): string | null {
  let urls: unknown;
  try {
    urls = JSON.parse(json);
  } catch {
    return 'its validation URLs are not JSON';
  }
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) return 'its validation URLs are not a list of one or more URLs';
  const problems = urls.map((u) => validationUrlProblem(u as string));
  if (problems.includes('credentials')) return 'a validation URL holds a user or password';
  if (problems.includes('not-http')) return 'a validation URL is not an http(s) URL';
  return null;
}
