/**
 * Which waiting connection to drop when too many wait. A connection upgraded for a CLI run that has
 * not yet said what to run holds a place for a while (a client over TLS waits for the service's
 * answer before it sends its command: a round trip). Dropping simply the oldest let anyone who
 * opens connections faster than that round trip drop every other client's. The oldest of the
 * address holding the most places goes instead: a flood from one address drops its own
 * connections. (On the Unix socket every client has the same, empty address: the oldest goes.)
 */

/**
 * The connection to drop among `waiting` (oldest first, as a Set keeps them): the oldest of those
 * whose `addressOf` is the most common; of addresses equally common, the one whose oldest waited
 * longest. Undefined when none waits.
 */
export function connectionToDrop<C>(waiting: Iterable<C>, addressOf: (connection: C) => string): C | undefined {
  const byAddress = new Map<string, { oldest: C; count: number }>();
  for (const c of waiting) {
    const address = addressOf(c);
    const seen = byAddress.get(address);
    if (seen === undefined) byAddress.set(address, { oldest: c, count: 1 });
    else seen.count++;
  }
  let drop: { oldest: C; count: number } | undefined;
  // Map order is first-seen order, so on a tie the address seen first (whose oldest is older) wins.
  for (const entry of byAddress.values()) if (drop === undefined || entry.count > drop.count) drop = entry;
  return drop?.oldest;
}
