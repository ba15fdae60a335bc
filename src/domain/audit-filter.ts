import { UsageError } from '../errors.js';
import { quote } from './userid.js';

/**
 * An audit action to filter by, `--action`: one (`tfa.add`) or a group of them (`tfa`: tfa.add,
 * tfa.delete, ...). Lower-case letters, digits, dots and dashes as actions are named, so the
 * store can match a group by prefix with nothing in it taken as a wildcard.
 */
export function parseAuditAction(input: string): string {
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(input) || input.length > 64) {
    throw new UsageError(`invalid --action ${quote(input)}: expected an action as the audit trail names it, such as login, tfa.add, or tfa for every tfa.* action`, 'invalid_action');
  }
  return input;
}
