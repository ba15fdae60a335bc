// A real browser for the tests: Debian's chromium, headless, driven by playwright-core, with the
// DevTools virtual authenticator standing in for a security key or a platform passkey. Chromium is
// a test peer (scripts/test-peers.mjs): without it launchBrowser throws, so its tests fail.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * The binary itself: the /usr/bin/chromium wrapper script misbehaves headless (it adds flags
 * from /etc/chromium.d and re-execs).
 */
export const CHROMIUM = '/usr/lib/chromium/chromium';

/**
 * The flags the reference recipe uses: no sandbox (tests may run as root, in a container); no
 * first-run, sync or background networking, so the browser talks to nobody but the test's pages.
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
] as const;

/** A headless chromium with its own fresh profile, removed on close. */
export interface TestBrowser {
  readonly context: BrowserContext;
  /** How long launching took, in milliseconds. */
  readonly launchMs: number;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(extraFlags: readonly string[] = []): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (npm test does: scripts/test-peers.mjs)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'tfactl-chromium-'));
  const started = performance.now();
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...extraFlags],
      timeout: 30_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const launchMs = performance.now() - started;
  return {
    context,
    launchMs,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The DevTools protocol's VirtualAuthenticatorOptions (the fields the tests use). */
export interface VirtualAuthenticatorOptions {
  readonly protocol: 'ctap2' | 'u2f';
  readonly transport: 'usb' | 'nfc' | 'ble' | 'internal';
  readonly hasResidentKey: boolean;
  readonly hasUserVerification: boolean;
  /** Whether user verification succeeds (a correct PIN or fingerprint). */
  readonly isUserVerified?: boolean;
  /** Whether the user is there (touches the key); false makes the ceremony wait and time out. */
  readonly automaticPresenceSimulation?: boolean;
}

/** The kinds of authenticator a user may bring. */
export const AUTHENTICATORS = {
  /** A platform passkey (a TPM, a phone) with user verification and discoverable credentials. */
  platformPasskey: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  /** A CTAP2 USB security key without resident keys or user verification. */
  usbSecurityKey: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false },
  /** A legacy U2F key (CTAP1): ES256 only, no user verification, no resident keys. */
  u2fKey: { protocol: 'u2f', transport: 'usb', hasResidentKey: false, hasUserVerification: false },
} as const satisfies Record<string, VirtualAuthenticatorOptions>;

/** A credential as the virtual authenticator holds it (DevTools WebAuthn.Credential). */
export interface VirtualCredential {
  readonly credentialId: string;
  readonly isResidentCredential: boolean;
  readonly rpId?: string;
  readonly signCount: number;
  readonly userHandle?: string;
}

export interface VirtualAuthenticator {
  readonly id: string;
  credentials(): Promise<VirtualCredential[]>;
  remove(): Promise<void>;
}

/**
 * Attaches a virtual authenticator to `page` (the browser then uses it instead of any real
 * device). It lives as long as the page's DevTools session.
 */
export async function addVirtualAuthenticator(page: Page, options: VirtualAuthenticatorOptions): Promise<VirtualAuthenticator> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { automaticPresenceSimulation: true, isUserVerified: false, ...options },
  });
  return {
    id: authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    remove: async () => {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
      await cdp.detach();
    },
  };
}

/** Opens a loopback page, presses its button, and waits until it says it is done or failed. */
export async function runPage(page: Page, url: string): Promise<{ state: string | null; text: string }> {
  await page.goto(url);
  const button = page.getByRole('button');
  await expect.poll(() => button.isEnabled(), { timeout: 10_000 }).toBe(true);
  await button.click();
  const status = page.getByRole('status');
  await expect.poll(() => status.getAttribute('data-state'), { timeout: 15_000 }).toMatch(/^(done|error)$/);
  return { state: await status.getAttribute('data-state'), text: (await status.textContent()) ?? '' };
}
