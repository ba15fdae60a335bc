import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/services/passwords.js';
import { passwordHashProblem } from '../../src/domain/password-hash.js';

const SALT_AND_HASH = '5H416CLlucbG/NIQNGbz+g$obsbecjS2HWHACfSlYtDgblumIeonbJtTcRuNrCNz8w';

describe('passwordHashProblem', () => {
  it('takes the hashes tfactl writes', async () => {
    expect(passwordHashProblem(await hashPassword('a password'))).toBeNull();
    expect(passwordHashProblem(`$argon2id$v=19$m=65536,t=3,p=4$${SALT_AND_HASH}`)).toBeNull();
  });

  it.each([
    [`$argon2id$v=19$m=4194304,t=1000,p=1$${SALT_AND_HASH}`, 'its argon2 parameters (m=4194304, t=1000, p=1) are outside what tfactl checks (m up to 262144 KiB, t up to 8, p up to 16)'],
    [`$argon2id$v=19$m=19456,t=9,p=1$${SALT_AND_HASH}`, 'its argon2 parameters (m=19456, t=9, p=1) are outside'],
    [`$argon2id$v=19$m=8,t=2,p=4$${SALT_AND_HASH}`, 'its argon2 parameters (m=8, t=2, p=4) are outside'],
    [`$argon2i$v=19$m=19456,t=2,p=1$${SALT_AND_HASH}`, 'it is not an argon2id hash'],
    ['$2b$12$abcdefghijklmnopqrstuuvwxyzabcdefghijklmnopqrstuvwxyz12', 'it is not an argon2id hash'],
    ['plain text password', 'it is not an argon2id hash'],
  ])('refuses %j', (hash, why) => {
    expect(passwordHashProblem(hash)).toContain(why);
  });

  it('never throws, and never repeats the hash text (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const why = passwordHashProblem(text);
        if (why !== null && text.length > 3) expect(why).not.toContain(text);
      }),
    );
  });
});
