import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditList, detailText, realmList, tokenList, userList } from '../../src/commands/render.js';
import { settingList } from '../../src/commands/settings/list.js';
import { factorList } from '../../src/commands/tfa/render.js';
import type { ListView } from '../../src/output.js';

const at = { now: 0, passwordWindowSeconds: 300 };
const views: Record<string, ListView<never>> = {
  'user list': userList(at),
  'tfa list': factorList(at),
  'realm list': realmList,
  'token list': tokenList,
  audit: auditList,
  'settings list': settingList,
};

describe('the listings fitted to a terminal', () => {
  it('are all checked here: every fit in src is one of these views', () => {
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const fits = files.flatMap((f) => [...readFileSync(join('src', f), 'utf8').matchAll(/^\s+fit: \{/gm)].map(() => f));
    expect(fits).toHaveLength(Object.keys(views).length);
  });

  // A fit names its columns by their headers: a header renamed later would drop out of it unseen.
  it.each(Object.entries(views))('%s names only its own headers in its fit', (_, view) => {
    const fit = view.fit!;
    expect(fit).toBeDefined();
    for (const name of [...fit.narrow, ...(fit.drop ?? []), ...(fit.names ?? [])]) expect(view.headers).toContain(name);
    // A name is cut in the middle, free text at its end: not both.
    for (const name of fit.names ?? []) expect([...fit.narrow, ...(fit.drop ?? [])]).not.toContain(name);
  });
});

describe("an audit entry's detail in a table", () => {
  it('reads as key=value pairs, strings as they are, anything else as JSON', () => {
    expect(detailText({ reason: 'no second factor given', passwordFailures: 1 })).toBe('reason=no second factor given, passwordFailures=1');
    expect(detailText({ id: 'ab12', description: { from: 'a', to: 'b' } })).toBe('id=ab12, description={"from":"a","to":"b"}');
    expect(detailText({})).toBe('');
  });
});
