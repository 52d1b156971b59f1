import { createHmac, timingSafeEqual } from "node:crypto";

const LABEL = new TextEncoder().encode("bytetide auth v1");
const ROLE = { initiator: 1, acceptor: 2 } as const;

/**
 * What one side sends to prove it knows the shared secret:
 * HMAC-SHA-256(secret, "bytetide auth v1" || role || root || initiator nonce || acceptor nonce).
 * Both nonces are fresh per connection, so a recorded proof is useless later; the role
 * byte keeps a peer from reflecting our own proof back at us. The secret never travels.
 */
export function authProof(
  secret: Uint8Array,
  role: keyof typeof ROLE,
  root: Uint8Array,
  initiatorNonce: Uint8Array,
  acceptorNonce: Uint8Array,
): Uint8Array {
  return createHmac("sha256", secret).update(LABEL).update(Uint8Array.of(ROLE[role])).update(root).update(initiatorNonce).update(acceptorNonce).digest();
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}
