import type { Invocation } from '../../invocation.js';
import { runSetEnabled } from './set-enabled.js';

export function run(inv: Invocation): Promise<void> {
  return runSetEnabled(inv, true);
}
