// ESLint (flat config), run by `npm test` (and `npm run lint`). Besides the recommended rules, it
// keeps imports pointing down the layers of STYLE.md:
//   commands -> services -> domain, store;  domain imports nothing of ours but domain (and errors).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A restriction on relative imports into a part of src/ (matched on the path as written). */
const into = (dir, why) => ({ regex: `^(\\.\\./)+${dir}/`, message: why });
const intoFile = (file, why) => ({ regex: `^(\\.\\./)+${file}\\.js$`, message: why });

const UP = 'imports point down the layers (commands -> services -> domain, store)';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'completions/', 'man/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', performance: 'readonly', fetch: 'readonly', NodeJS: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Tests read JSON envelopes whose shapes the schemas check; `any` there is deliberate.
      '@typescript-eslint/no-explicit-any': 'off',
      eqeqeq: ['error', 'always'],
      // tfactl refuses and escapes control characters on purpose (domain/text.ts), and its tests
      // look for them: a regular expression naming them is meant.
      'no-control-regex': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            into('(commands|services|store)', 'the domain is pure: it imports only other domain modules (and errors)'),
            intoFile('(output|files|stdio|main|cli|context|invocation|qr|terminal-prompts)', 'the domain is pure: no IO, no terminal, no command line'),
          ],
          paths: ['node:fs', 'fs', 'node:child_process', 'child_process', 'node:net', 'node:http', 'node:https'].map((name) => ({
            name,
            message: 'the domain is pure: no IO',
          })),
        },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [into('(commands|services)', UP), intoFile('(output|main|cli|context|invocation)', UP)] }],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            into('commands', UP),
            intoFile('(output|main|cli|invocation|terminal-prompts|stdio)', 'services know nothing of the command line: no output, prompts or standard input'),
            intoFile('context', 'services take no Ctx: they get a Session (services/session.ts)'),
          ],
        },
      ],
    },
  },
  {
    files: ['src/commands/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [into('store', 'commands reach the store through services, and render views of their own (commands/views.ts)')] }],
    },
  },
  {
    // Plain JavaScript run by Node: scripts and the entry point.
    files: ['**/*.{js,mjs,cjs}'],
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-console': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', exports: 'writable', __dirname: 'readonly', __filename: 'readonly' },
    },
  },
);
