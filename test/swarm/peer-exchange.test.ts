import { expect, test } from "bun:test";
import { MAX_PEERS_PER_MESSAGE } from "../../src/protocol/messages.ts";
import { addressesToShare, dialableByOthers, forRecipient, usableAddresses } from "../../src/swarm/peer-exchange.ts";

test("passes on the peers connected now, except the recipient, and only what others can dial, each with its zone as known", () => {
  const connected = [
    { host: "10.0.0.1", port: 7654, zone: "rack-1" },
    { host: "seed-host", port: 7654 },
    { host: "::1", port: 7000 },
    { host: "10.0.0.2", port: 7654 },
  ];
  const shared = addressesToShare(connected, { host: "10.0.0.2", port: 7654 });
  expect(shared).toEqual([
    { host: "10.0.0.1", port: 7654, zone: "rack-1" },
    { host: "::1", port: 7000, zone: "" },
  ]);
  // A peer of an earlier version reads the entries of before zones.
  expect(forRecipient(shared, false)).toEqual([
    { host: "10.0.0.1", port: 7654 },
    { host: "::1", port: 7000 },
  ]);
  expect(addressesToShare([], null)).toEqual([]);
});

test("never lists more than one PEERS message carries", () => {
  const many = Array.from({ length: MAX_PEERS_PER_MESSAGE + 50 }, (_, i) => ({ host: `10.1.${i >> 8}.${i & 255}`, port: 7654 }));
  expect(addressesToShare(many, null)).toHaveLength(MAX_PEERS_PER_MESSAGE);
});

test("a received list keeps IP literals with a port and names the entries it skips", () => {
  const { usable, skipped } = usableAddresses([
    { host: "127.0.0.1", port: 17999 },
    { host: "localhost", port: 17999 },
    { host: "10.0.0.9", port: 0 },
    { host: "fe80::1", port: 7654 },
  ]);
  expect(usable).toEqual([
    { host: "127.0.0.1", port: 17999 },
    { host: "fe80::1", port: 7654 },
  ]);
  expect(skipped).toEqual(["localhost:17999", "10.0.0.9:0"]);
});

test("a host name is dialable only where it was resolved", () => {
  expect(dialableByOthers({ host: "bytetide-seed", port: 7654 })).toBe(false);
  expect(dialableByOthers({ host: "192.0.2.7", port: 7654 })).toBe(true);
});
