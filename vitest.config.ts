import { defineConfig } from 'vitest/config';

/**
 * End-to-end test files that hold for every backend: they read the store's state through the CLI
 * only (test/e2e/harness.ts), so they run a second time on PostgreSQL. The others read what only a
 * SQLite file shows (secrets at rest, the file's modes, its header) or set the store up as a file.
 */
const ON_EVERY_BACKEND = [
  'test/e2e/audit-prune.test.ts',
  'test/e2e/backup-export.test.ts',
  'test/e2e/cli.test.ts',
  'test/e2e/damaged-store.test.ts',
  'test/e2e/client.test.ts',
  'test/e2e/complete.test.ts',
  'test/e2e/concurrency.test.ts',
  'test/e2e/enforcement.test.ts',
  'test/e2e/first-hour.test.ts',
  'test/e2e/hostile-text.test.ts',
  'test/e2e/import.test.ts',
  'test/e2e/input-files.test.ts',
  'test/e2e/login-ceremony.test.ts',
  'test/e2e/names.test.ts',
  'test/e2e/permissions.test.ts',
  'test/e2e/proxmox-import.test.ts',
  'test/e2e/qr.test.ts',
  'test/e2e/realm.test.ts',
  'test/e2e/recovery-lockout.test.ts',
  'test/e2e/root-protection.test.ts',
  'test/e2e/serve.test.ts',
  'test/e2e/sessions.test.ts',
  'test/e2e/signin-rules.test.ts',
  'test/e2e/stdio.test.ts',
  'test/e2e/tokens.test.ts',
  'test/e2e/totp.test.ts',
  'test/e2e/tty.test.ts',
  'test/e2e/user.test.ts',
  'test/e2e/webauthn-cli.test.ts',
  'test/e2e/webauthn-enrol.test.ts',
  'test/e2e/webauthn-signin.test.ts',
  'test/e2e/yubico.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn processes; two cores run two files at a time comfortably.
    maxWorkers: 2,
    projects: [
      // One after the other: run side by side, the projects' heavy files (8 processes racing one
      // store on each backend) starved each other of the two cores, and a SQLite writer once
      // waited past its busy timeout.
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], sequence: { groupOrder: 0 }, globalSetup: ['test/fixtures/nobody-global.ts'] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          sequence: { groupOrder: 1 },
          include: ON_EVERY_BACKEND,
          env: { TFACTL_TEST_BACKEND: 'postgres' },
          globalSetup: ['test/fixtures/postgres-global.ts', 'test/fixtures/nobody-global.ts'],
        },
      },
    ],
  },
});
