import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layer rule of eslint.config.js, checked on code written for the purpose: each import that
 * points up the layers is an error in the file where it would be, and the allowed ones are not.
 */
const ROOT = resolve(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: ROOT });

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(ROOT, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('imports point down the layers', () => {
  it.each([
    ['src/domain/x.ts', "import { openSession } from '../commands/session.js';"],
    ['src/domain/x.ts', "import type { Store } from '../store/types.js';"],
    ['src/domain/x.ts', "import { listUsers } from '../services/users.js';"],
    ['src/domain/x.ts', "import { readFileSync } from 'node:fs';"],
    ['src/domain/x.ts', "import { createOutput } from '../output.js';"],
    ['src/services/x.ts', "import { openSession } from '../commands/session.js';"],
    ['src/services/x.ts', "import type { Ctx } from '../context.js';"],
    ['src/services/x.ts', "import type { Invocation } from '../invocation.js';"],
    ['src/services/x.ts', "import { createOutput } from '../output.js';"],
    ['src/store/x.ts', "import { authorize } from '../services/authz.js';"],
    ['src/commands/user/x.ts', "import type { UserRecord } from '../../store/types.js';"],
    ['src/commands/x.ts', "import { openSqliteStore } from '../store/sqlite.js';"],
  ])('%s may not: %s', async (file, code) => {
    expect(await layerErrors(file, `${code}\nexport const used = 1;\n`)).toHaveLength(1);
  });

  it.each([
    ['src/domain/x.ts', "import { UsageError } from '../errors.js';\nimport { quote } from './userid.js';"],
    ['src/services/x.ts', "import type { Store } from '../store/types.js';\nimport { decide } from '../domain/permissions.js';"],
    ['src/commands/x.ts', "import { listUsers } from '../services/users.js';\nimport { createOutput } from '../output.js';"],
    ['src/store/x.ts', "import { canonicalName } from '../domain/userid.js';"],
  ])('%s may: %s', async (file, code) => {
    expect(await layerErrors(file, `${code}\nexport const used = 1;\n`)).toEqual([]);
  });
});

describe('npm test', () => {
  it('lints before the tests run', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toMatch(/&& npm run lint$/);
    expect(pkg.scripts.lint).toBe('eslint .');
  });
});
