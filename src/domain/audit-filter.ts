import { UsageError } from '../errors.js';
import { nearest } from './near.js';
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

/**
 * `--action sign-in`: every sign-in however it was made, the groups of its actions: `login`,
 * `auth` (a command's --as; `auth.token`, an API token; `auth.verify`, a program asking tfactl
 * serve) and `pam`.
 */
export const SIGN_IN_ACTIONS: readonly string[] = ['login', 'auth', 'pam'];

/** The actions, each with the group under it, that `--action` names: itself, or sign-in's. */
export function actionGroups(action: string): readonly string[] {
  return action === 'sign-in' ? SIGN_IN_ACTIONS : [action];
}

/**
 * Why `--action` found nothing, when no entry of the trail (`actions`, those the reader may see)
 * has that action or one under it: the nearest action or group, or the actions there are. Null
 * when there are such entries (the other filters left them out).
 */
export function unknownActionHint(action: string, actions: readonly string[]): string | null {
  if (actions.some((a) => actionGroups(action).some((g) => a === g || a.startsWith(`${g}.`)))) return null;
  const groups = [...new Set(actions.flatMap((a) => a.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))))];
  const near = nearest(action, groups);
  const said = `no entry of the audit trail has the action ${quote(action)}`;
  if (near !== undefined) return `${said}: did you mean ${near}?`;
  return actions.length === 0 ? said : `${said}; it has ${actions.join(', ')}`;
}
