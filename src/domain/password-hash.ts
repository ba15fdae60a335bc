/**
 * What a stored password hash must look like: argon2id in the PHC string format that tfactl writes
 * (services/passwords.ts), with parameters no larger than these. The parameters travel inside the
 * hash and verifying spends what they say, so a hash with `m=4194304` (4 GiB) in a doctored backup
 * would make every sign-in attempt of that user id, by anyone, cost 4 GiB and minutes. Pure.
 */
export const PASSWORD_HASH_LIMITS = { memoryKiB: 262_144, time: 8, parallelism: 16 } as const;

const PHC = /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$[A-Za-z0-9+/]{11,88}\$[A-Za-z0-9+/]{22,88}$/;

/** Why `hash` is no password hash tfactl would check, or null when it is one. */
export function passwordHashProblem(hash: string): string | null {
  const m = PHC.exec(hash);
  if (!m) return 'it is not an argon2id hash (version 19) as tfactl writes them';
  const [memory, time, parallelism] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const { memoryKiB, time: maxTime, parallelism: maxParallelism } = PASSWORD_HASH_LIMITS;
  if (memory < 8 * parallelism || memory > memoryKiB || time < 1 || time > maxTime || parallelism < 1 || parallelism > maxParallelism) {
    return `its argon2 parameters (m=${memory}, t=${time}, p=${parallelism}) are outside what tfactl checks (m up to ${memoryKiB} KiB, t up to ${maxTime}, p up to ${maxParallelism})`;
  }
  return null;
}
