// Bun's hasher and Web Crypto, not node:crypto: loading that module alone costs every
// start of the executable about 18 ms (bytetide --version, docs/performance.md).

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
  const hmac = new Bun.CryptoHasher("sha256", secret);
  for (const part of [LABEL, Uint8Array.of(ROLE[role]), root, initiatorNonce, acceptorNonce]) hmac.update(part);
  return hmac.digest() as Uint8Array;
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && crypto.timingSafeEqual(expected, received);
}
