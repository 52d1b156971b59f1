import { expect, test } from "bun:test";
import fc from "fast-check";
import { type Arrival, admit } from "../../src/swarm/admission.ts";

const id = (byte: number) => new Uint8Array(16).fill(byte);
const small = id(1);
const large = id(2);
const arrival = (over: Partial<Arrival> = {}): Arrival => ({ ourId: small, theirId: large, weDialled: true, twin: false, peers: 0, maxPeers: 50, ...over });

test("a connection to our own peer id is refused, whoever opened it and whatever else holds", () => {
  expect(admit(arrival({ theirId: id(1) }))).toBe("self");
  expect(admit(arrival({ theirId: id(1), weDialled: false, twin: true, peers: 50 }))).toBe("self");
});

test("a peer id that differs in its last byte is not us", () => {
  const almost = id(1);
  almost[15] = 0;
  expect(admit(arrival({ theirId: almost }))).toBe("admit");
});

test("a second connection to a peer: the one opened by the smaller peer id stays", () => {
  // We have the smaller id: the connection we dialled is the keeper.
  expect(admit(arrival({ twin: true, weDialled: true }))).toBe("replace-twin");
  expect(admit(arrival({ twin: true, weDialled: false }))).toBe("keep-twin");
  // They have the smaller id: the connection they dialled (we accepted) is the keeper.
  expect(admit(arrival({ ourId: large, theirId: small, twin: true, weDialled: false }))).toBe("replace-twin");
  expect(admit(arrival({ ourId: large, theirId: small, twin: true, weDialled: true }))).toBe("keep-twin");
});

test("both sides of a crossed dial keep the same connection, for any two peer ids", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (a, b) => {
      fc.pre(Buffer.compare(a, b) !== 0);
      // Connection X was dialled by a, connection Y by b. Each side has one of them already.
      // At a, X is dialled and Y accepted; at b, the reverse. The keeper must be the same one.
      const aKeepsY = admit(arrival({ ourId: a, theirId: b, twin: true, weDialled: false })) === "replace-twin";
      const bKeepsY = admit(arrival({ ourId: b, theirId: a, twin: true, weDialled: true })) === "replace-twin";
      expect(aKeepsY).toBe(bKeepsY);
    }),
  );
});

test("a new peer is refused once --max-peers are connected; one below the limit is admitted", () => {
  expect(admit(arrival({ peers: 49, maxPeers: 50 }))).toBe("admit");
  expect(admit(arrival({ peers: 50, maxPeers: 50 }))).toBe("full");
});

test("a connection replacing its twin is not a new peer: the limit does not refuse it", () => {
  expect(admit(arrival({ twin: true, peers: 50, maxPeers: 50 }))).toBe("replace-twin");
});
