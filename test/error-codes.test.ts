import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const envelope = JSON.parse(readFileSync(join(root, 'schemas/envelope.json'), 'utf8'));

/** The codes schemas/envelope.json allows in a failure's `error.code`. */
function schemaCodes(node: unknown = envelope): string[] {
  if (Array.isArray(node)) return node.flatMap(schemaCodes);
  if (node === null || typeof node !== 'object') return [];
  const props = (node as { properties?: Record<string, { enum?: string[] }> }).properties;
  if (props?.code?.enum && props.message) return props.code.enum;
  return Object.values(node).flatMap(schemaCodes);
}

/** The README's Error codes table: code and exit code, in its order. */
function readmeCodes(): [string, string][] {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf('\n### Error codes\n'), text.indexOf('\n## ', text.indexOf('\n### Error codes\n')));
  return [...section.matchAll(/^\| `([a-z_]+)` \| ([0-9, -]+) \| .+ \|$/gm)].map((m) => [m[1]!, m[2]!]);
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The class each error class's exit code comes from (src/errors.ts), and the exit code. */
const EXIT_OF: Record<string, string> = { UsageError: '2', NotFoundError: '3', RefusedError: '4', AuthError: '5', StoreError: '6', CancelledError: '130' };

describe('the error codes', () => {
  const codes = schemaCodes();

  it('are listed once each, in the schema and in the README alike', () => {
    expect(codes.length).toBeGreaterThan(100);
    expect(new Set(codes).size).toBe(codes.length);
    expect(readmeCodes().map(([c]) => c).sort()).toEqual([...codes].sort());
  });

  it('include every code the source gives an error, with the exit code its class has', () => {
    const readme = new Map(readmeCodes());
    const seen = new Map<string, Set<string>>();
    // The code as the last argument of an error's constructor, or of authz's refuse(session, ...) (a RefusedError), on one line.
    const call = /new (\w+Error)\((?:[^()'`]|'[^']*'|`[^`]*`|\([^()]*\))*, '([a-z][a-z0-9_]*)'\)|\brefuse\(session, (?:[^()'`]|'[^']*'|`[^`]*`|\([^()]*\))*, '([a-z][a-z0-9_]*)'\)/g;
    for (const file of sources(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(call)) {
        const code = m[2] ?? m[3]!;
        const cls = m[1] ?? 'RefusedError';
        if (!seen.has(code)) seen.set(code, new Set());
        seen.get(code)!.add(cls);
      }
    }
    expect(seen.size).toBeGreaterThan(50);
    for (const [code, classes] of seen) {
      expect(codes, code).toContain(code);
      for (const cls of classes) if (EXIT_OF[cls]) expect(readme.get(code)?.split(', '), `${code} (${cls})`).toContain(EXIT_OF[cls]);
    }
  });
});
