import { expect, test } from "bun:test";
import { AddressBook, peerLabel } from "../../src/swarm/address-book.ts";

test("labels IPv4 and IPv6 addresses the way --peer takes them", () => {
  expect(peerLabel({ host: "10.0.0.1", port: 7654 })).toBe("10.0.0.1:7654");
  expect(peerLabel({ host: "::1", port: 7654 })).toBe("[::1]:7654");
});

test("learns each address once, refuses port 0, and stays within its capacity", () => {
  const book = new AddressBook(2);
  expect(book.learn({ host: "10.0.0.1", port: 1 })).toBe(true);
  expect(book.learn({ host: "10.0.0.1", port: 1 })).toBe(false);
  expect(book.learn({ host: "10.0.0.2", port: 0 })).toBe(false);
  expect(book.learn({ host: "10.0.0.3", port: 1 })).toBe(true);
  expect(book.learn({ host: "10.0.0.4", port: 1 })).toBe(false);
  expect(book.dialable().map((e) => peerLabel(e.address))).toEqual(["10.0.0.1:1", "10.0.0.3:1"]);
});

test("a failed address comes due again after 250, 500, 1000, then every 2000 ms", () => {
  const book = new AddressBook(10);
  const label = "10.0.0.1:1";
  book.learn({ host: "10.0.0.1", port: 1 });
  let now = 1_000;
  for (const delay of [250, 500, 1000, 2000, 2000]) {
    book.markConnecting(label);
    book.markFailed(label, "refused", now);
    expect(book.dialable()).toHaveLength(0);
    expect(book.anyDialable()).toBe(true);
    expect(book.due(now + delay - 1)).toBe(0);
    expect(book.due(now + delay)).toBe(1);
    expect(book.dialable()).toHaveLength(1);
    now += delay;
  }
  expect(book.describe()).toBe(`${label}: refused`);
});

test("a connection resets the back-off; a stopped book never makes an address due again", () => {
  const book = new AddressBook(10);
  const label = "10.0.0.1:1";
  book.learn({ host: "10.0.0.1", port: 1 });
  book.markFailed(label, "refused", 0);
  book.markFailed(label, "refused", 0);
  book.markConnected(label);
  book.markFailed(label, "reset", 0);
  expect(book.due(250)).toBe(1);
  book.markFailed(label, "refused", 250);
  book.stopAll();
  expect(book.due(1e9)).toBe(0);
  book.markFailed(label, "refused", 1e9);
  expect(book.due(2e9)).toBe(0);
  expect(book.anyDialable()).toBe(true);
});
