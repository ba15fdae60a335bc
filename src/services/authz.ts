import { decide, type Operation } from '../domain/permissions.js';
import { RefusedError } from '../errors.js';
import type { Session } from './session.js';

/**
 * The one gate every service passes before acting: allowed, or audited as refused and thrown as
 * RefusedError (exit 4) before anything changes. `action` names the attempt in the audit trail.
 */
export async function authorize(session: Session, op: Operation, action: string, target?: string): Promise<void> {
  const decision = decide(session.actor, op, target);
  if (decision.allowed) return;
  await session.audit({ action, target: target ?? null, outcome: 'refused', detail: { reason: decision.reason } });
  throw new RefusedError(decision.reason, 'permission_denied');
}

/** Refuses (audited, exit 4) an action that breaks a rule other than permissions. */
export async function refuse(session: Session, action: string, target: string | null, reason: string, code = 'refused'): Promise<never> {
  await session.audit({ action, target, outcome: 'refused', detail: { reason } });
  throw new RefusedError(reason, code);
}
