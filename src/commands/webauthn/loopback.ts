/**
 * The WebAuthn loopback page as the command layer uses it: a command (`tfa add webauthn`, `login`)
 * loads this module lazily, starts the ceremony, prints the hints, opens a browser where there is
 * a desktop, and awaits the result. Loading it costs node:http and node:child_process, which no
 * other command needs.
 */
export {
  CEREMONY_ANSWER_MAX_BYTES,
  CEREMONY_TIMEOUT_MS,
  startLoopbackCeremony,
  type CeremonyAnswerJSON,
  type CeremonyKind,
  type CeremonyOptionsJSON,
  type CeremonyPayloads,
  type CeremonyPrompt,
  type LoopbackCeremony,
  type LoopbackCeremonyOptions,
} from './loopback-server.js';
export { ceremonyHintLines, ceremonyHints, openBrowser, type CeremonyHints, type CeremonyHintsInput } from './hints.js';
