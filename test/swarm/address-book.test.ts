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

test("a failed address is dialled again after a back-off, and not at all once stopped", async () => {
  const book = new AddressBook(10);
  book.learn({ host: "10.0.0.1", port: 1 });
  book.markConnecting("10.0.0.1:1");
  let retried = 0;
  book.markFailed("10.0.0.1:1", "refused", () => retried++);
  expect(book.dialable()).toHaveLength(0);
  expect(book.anyDialable()).toBe(true);
  // Timers may fire late on a busy machine, never early: wait for the retry, within a bound.
  for (let waited = 0; retried === 0 && waited < 10_000; waited += 10) await Bun.sleep(10);
  expect(retried).toBe(1);
  expect(book.dialable()).toHaveLength(1);
  book.markFailed("10.0.0.1:1", "refused", () => retried++);
  book.stopAll();
  // Longer than the next back-off (500 ms): a stopped book must not have redialled.
  await Bun.sleep(1_000);
  expect(retried).toBe(1);
});
