import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { u2fSettings, webauthnSettings } from '../../src/services/settings.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';

/** The effective WebAuthn/U2F settings, as the WebAuthn and U2F ceremonies will read them, on a real SQLite store. */
let dir: string;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tfactl-webauthn-settings-'));
  store = (await openSqliteStore(join(dir, 'store.db'), { now: 1 })).store;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('webauthnSettings and u2fSettings', () => {
  it('give the defaults on a new store: RP id localhost, no origins, U2F not configured', async () => {
    expect(await webauthnSettings(store, 'node1')).toEqual({ rpId: 'localhost', rpName: 'tfactl@node1', origins: [], userVerification: 'preferred' });
    expect(await u2fSettings(store)).toBeNull();
  });

  it('read the stored settings, the origins as a list and the U2F origin defaulting to the appid', async () => {
    await store.setSetting('webauthn.rp-id', 'example.com');
    await store.setSetting('webauthn.origin', 'https://a.example.com https://b.example.com:8006');
    await store.setSetting('u2f.appid', 'https://pve.example.com:8006/');
    expect(await webauthnSettings(store, 'node1')).toEqual({ rpId: 'example.com', rpName: 'tfactl@node1', origins: ['https://a.example.com', 'https://b.example.com:8006'], userVerification: 'preferred' });
    expect(await u2fSettings(store)).toEqual({ appId: 'https://pve.example.com:8006/', origin: 'https://pve.example.com:8006' });
    await store.setSetting('u2f.origin', 'https://other.example.com');
    expect((await u2fSettings(store))?.origin).toBe('https://other.example.com');
  });

  it('fall back, setting by setting, to what an older import kept from tfa.cfg', async () => {
    await store.setSetting('proxmox.webauthn', JSON.stringify({ rp: 'PVE', origin: 'https://pve.example.com:8006', id: 'pve.example.com' }));
    await store.setSetting('proxmox.u2f', JSON.stringify({ appid: 'https://pve.example.com:8006' }));
    await store.setSetting('webauthn.rp-name', 'Set since');
    expect(await webauthnSettings(store, 'node1')).toEqual({ rpId: 'pve.example.com', rpName: 'Set since', origins: ['https://pve.example.com:8006'], userVerification: 'preferred' });
    expect(await u2fSettings(store)).toEqual({ appId: 'https://pve.example.com:8006', origin: 'https://pve.example.com:8006' });
    // A damaged old value is passed over, never thrown at a sign-in.
    await store.setSetting('proxmox.webauthn', '{"id": "not a domain!"');
    expect((await webauthnSettings(store, 'node1')).rpId).toBe('localhost');
  });
});
