import { expect, test } from "bun:test";
import fc from "fast-check";
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

test("what the book answers on every tick (dialable, connecting, due) matches its entries after any sequence of events", () => {
  const hosts = 5;
  const label = (h: number) => `10.0.0.${h}:1`;
  const op = fc.tuple(fc.constantFrom("learn", "connecting", "connected", "failed", "banned", "gone", "self", "due", "stop"), fc.nat(hosts - 1), fc.nat(3000));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const book = new AddressBook(hosts);
      // The model: each label's state and when it is due, as the book's documentation says.
      const model = new Map<string, { state: string; at: number; failures: number }>();
      let now = 0;
      let stopped = false;
      for (const [kind, h, dt] of ops) {
        now += dt;
        const l = label(h);
        const e = model.get(l);
        if (kind === "learn") {
          book.learn({ host: `10.0.0.${h}`, port: 1 });
          if (!e) model.set(l, { state: "idle", at: Infinity, failures: 0 });
        } else if (kind === "due") {
          const n = book.due(now);
          const dueNow = [...model.values()].filter((m) => m.state === "waiting" && m.at <= now);
          for (const m of dueNow) m.state = "idle";
          expect(n).toBe(dueNow.length);
        } else if (kind === "stop") {
          book.stopAll();
          stopped = true;
          for (const m of model.values()) m.at = Infinity;
        } else if (e) {
          if (kind === "connecting") (book.markConnecting(l), (e.state = "connecting"));
          if (kind === "connected") (book.markConnected(l), (e.state = "connected"), (e.failures = 0));
          if (kind === "banned") (book.markBanned(l, "bad"), (e.state = "banned"));
          if (kind === "gone") (book.markGone(l, "gone"), (e.state = "gone"));
          if (kind === "self") (book.markSelf(l), (e.state = "self"));
          if (kind === "failed") {
            book.markFailed(l, "refused", now);
            if (!["banned", "gone", "self"].includes(e.state)) {
              e.state = "waiting";
              e.at = stopped ? Infinity : now + [250, 500, 1000, 2000][Math.min(e.failures, 3)]!;
              if (!stopped) e.failures++;
            }
          }
        }
        const states = [...model.values()].map((m) => m.state);
        expect(book.dialable()).toHaveLength(states.filter((s) => s === "idle").length);
        expect(book.connecting).toBe(states.filter((s) => s === "connecting").length);
        expect(book.anyDialable()).toBe(states.some((s) => s === "idle" || s === "waiting" || s === "connecting"));
      }
    }),
    { numRuns: 300 },
  );
});
