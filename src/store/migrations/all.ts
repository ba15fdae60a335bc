import { initial } from './001_initial.js';
import { factors } from './002_factors.js';
import { yubico } from './003_yubico.js';
import { opaqueFactors } from './004_opaque_factors.js';
import { sevenDigits } from './005_seven_digits.js';
import { passwordRegulation } from './006_password_regulation.js';
import { canonicalNames } from './007_canonical_names.js';
import { replayLedger } from './008_replay_ledger.js';
import { userListingIndex } from './009_user_listing_index.js';
import { challenges } from './010_challenges.js';
import { credentials } from './011_credentials.js';
import { apiTokens } from './012_api_tokens.js';
import { sessions } from './013_sessions.js';
import { totpIssuer } from './014_totp_issuer.js';
import { secretMarks } from './015_secret_marks.js';
import { userOrder } from './016_user_order.js';
import type { Migration } from './index.js';

/** Every migration, oldest first. Append only; never edit one that has shipped; bump LATEST_VERSION. */
export const MIGRATIONS: readonly Migration[] = [initial, factors, yubico, opaqueFactors, sevenDigits, passwordRegulation, canonicalNames, replayLedger, userListingIndex, challenges, credentials, apiTokens, sessions, totpIssuer, secretMarks, userOrder];
