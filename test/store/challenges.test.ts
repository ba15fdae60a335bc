import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { onEveryBackend } from './backends.js';

/**
 * The store's challenges, as services rely on them: the first cases of the store contract (issue
 * 13: one suite, every backend: test/store/backends.ts).
 */

const challenge = (id: string, userid: string, created: number, expires: number, purpose: 'sign-in' | 'registration' = 'sign-in') => ({ id, userid, purpose, created, expires, data: `{"n":"${id}"}` });

onEveryBackend((opened) => {
  let store: Store;
  beforeAll(() => {
    store = opened();
  });

  describe('challenges in the store', () => {
    it('list the live ones of a user and purpose, newest first, without taking them', async () => {
      await store.insertChallenge(challenge('old', 'root@local', 1000, 1120), 1000);
      await store.insertChallenge(challenge('new', 'root@local', 1010, 1130), 1010);
      await store.insertChallenge(challenge('gone', 'root@local', 900, 1005), 1010);
      await store.insertChallenge(challenge('other', 'someone@local', 1010, 1130), 1010);
      await store.insertChallenge(challenge('enrol', 'root@local', 1010, 1130, 'registration'), 1010);
      expect((await store.liveChallenges('root@local', 'sign-in', 1011)).map((c) => c.id)).toEqual(['new', 'old']);
      expect((await store.liveChallenges('root@local', 'sign-in', 1011)).map((c) => c.id)).toEqual(['new', 'old']);
      expect((await store.liveChallenges('root@local', 'sign-in', 1125)).map((c) => c.id)).toEqual(['new']);
      expect(await store.liveChallenges('nobody@local', 'sign-in', 1011)).toEqual([]);
    });

    it('are taken once, by their user, before they expire', async () => {
      expect(await store.takeChallenge('new', 'someone@local', 'sign-in', 1011)).toBeUndefined();
      expect(await store.takeChallenge('new', 'root@local', 'registration', 1011)).toBeUndefined();
      expect(await store.takeChallenge('old', 'root@local', 'sign-in', 1120)).toBeUndefined();
      expect(await store.takeChallenge('new', 'root@local', 'sign-in', 1011)).toMatchObject({ id: 'new', data: '{"n":"new"}' });
      expect(await store.takeChallenge('new', 'root@local', 'sign-in', 1011)).toBeUndefined();
      expect((await store.liveChallenges('root@local', 'sign-in', 1011)).map((c) => c.id)).toEqual(['old']);
    });
  });
});
