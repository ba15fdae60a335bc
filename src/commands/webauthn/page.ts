import type { CeremonyKind } from '../../domain/loopback-ceremony.js';
import { CEREMONY_RESOURCES } from '../../domain/loopback-ceremony.js';
import { escapeText } from '../../domain/text.js';

/**
 * The loopback page: static HTML with the text the command gives, and a small script that runs the
 * ceremony with @simplewebauthn/browser (served beside it from the package, never from a CDN) and
 * posts the answer. Both are strings in the bundle: no file to find at run time but the library.
 */

/** What the page says: who is enrolling or signing in what. Plain text; the page escapes it. */
export interface CeremonyPrompt {
  /** The page's title and heading, e.g. "Register a security key". */
  readonly heading: string;
  /** Label and value pairs shown under it, e.g. ["User", "alice@pve"]. */
  readonly facts: readonly (readonly [label: string, value: string])[];
}

/**
 * Escapes text for HTML element content and attribute values, after making every control,
 * bidirectional-override and separator character visible (domain/text.ts): a value can neither
 * become markup nor reorder what the page shows around it.
 */
export function escapeHtml(text: string): string {
  return escapeText(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 36rem; margin: 3rem auto; padding: 0 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
button { font: inherit; padding: .5rem 1rem; }
[data-state=error] { color: #a40000; } [data-state=done] { color: #0a6b0a; }
`;

/**
 * The page's Content-Security-Policy: its own scripts and endpoints only, its one inline style,
 * nothing framed, no form posts, no base URL.
 */
export function pageSecurityPolicy(): string {
  const styleHash = process.getBuiltinModule('node:crypto').createHash('sha256').update(STYLE).digest('base64');
  return `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-${styleHash}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

/** The page's HTML. The script finds what to do at `options`, relative to the page. */
export function ceremonyPageHtml(kind: CeremonyKind, prompt: CeremonyPrompt): string {
  const facts = prompt.facts.map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd><bdi>${escapeHtml(value)}</bdi></dd>`).join('\n');
  const action = kind === 'registration' ? 'Register' : 'Sign in';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tfactl: ${escapeHtml(prompt.heading)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(prompt.heading)}</h1>
<dl>
${facts}
</dl>
<p><button id="start" type="button" disabled>${action} with a security key or passkey</button></p>
<p id="status" role="status" aria-live="polite">Loading...</p>
<noscript><p>This page needs JavaScript to talk to your security key.</p></noscript>
</main>
<script src="${CEREMONY_RESOURCES.library}"></script>
<script src="${CEREMONY_RESOURCES.script}"></script>
</body>
</html>
`;
}

/**
 * The page's script. The button starts the ceremony (some browsers want a click before they talk
 * to a key); a failure in the browser (cancelled, timed out, no key) leaves the button for another
 * try, since nothing was sent. The server's reply to the answer is final: shown, no retry.
 */
export const CEREMONY_PAGE_SCRIPT = `'use strict';
(function () {
  var lib = window.SimpleWebAuthnBrowser;
  var button = document.getElementById('start');
  var status = document.getElementById('status');
  var ceremony = null;
  function show(text, state) {
    status.textContent = text;
    status.setAttribute('data-state', state);
  }
  function ready() {
    button.disabled = false;
    button.focus();
    show('Press the button, then follow your browser: touch your security key or confirm on your device.', 'ready');
  }
  button.addEventListener('click', function () {
    button.disabled = true;
    show('Waiting for your security key or device...', 'busy');
    var start = ceremony.kind === 'registration' ? lib.startRegistration : lib.startAuthentication;
    start({ optionsJSON: ceremony.publicKey }).then(function (answer) {
      show('Checking...', 'busy');
      return fetch('${CEREMONY_RESOURCES.response}', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(answer),
        cache: 'no-store',
      }).then(function (r) {
        return r.json();
      }).then(function (reply) {
        show(reply.message, reply.ok ? 'done' : 'error');
      }, function () {
        show('tfactl is no longer waiting for this page (it timed out or was stopped): start again in the terminal.', 'error');
      });
    }, function (e) {
      show('Your browser did not finish: ' + (e && e.name ? e.name + ': ' : '') + (e && e.message ? e.message : String(e)) + ' Press the button to try again.', 'error');
      button.disabled = false;
    });
  });
  if (!lib || !lib.browserSupportsWebAuthn()) {
    show('This browser does not support WebAuthn (security keys and passkeys).', 'error');
    return;
  }
  fetch('${CEREMONY_RESOURCES.options}', { cache: 'no-store' }).then(function (r) {
    return r.json().then(function (body) {
      if (!r.ok) throw new Error(body.message);
      ceremony = body;
      ready();
    });
  }).catch(function (e) {
    show('This page cannot be used: ' + (e && e.message ? e.message : 'tfactl is no longer waiting for it') + '. Start again in the terminal.', 'error');
  });
})();
`;
