import { expect, test } from "bun:test";
import { ConnectionTable } from "../../src/swarm/connections.ts";

test("a connection goes pending → active → leaving → gone; only an active one is read, a leaving one is still found by its key", () => {
  const table = new ConnectionTable<string>();
  table.opened("dialled");
  expect(table.stateOf("dialled")).toBe("pending");
  expect(table.activeKey("dialled")).toBeNull();
  expect(table.peerCount).toBe(0);

  table.admitted("dialled", "k1");
  expect(table.activeKey("dialled")).toBe("k1");
  expect(table.get("k1")).toBe("dialled");
  expect(table.isActive("k1")).toBe(true);
  expect(table.peerCount).toBe(1);

  expect(table.leaving("dialled")).toBe("k1");
  expect(table.stateOf("dialled")).toBe("leaving");
  expect(table.activeKey("dialled")).toBeNull();
  expect(table.isActive("k1")).toBe(false);
  expect(table.get("k1")).toBe("dialled");
  expect(table.keyOf("dialled")).toBe("k1");

  expect(table.closed("dialled")).toBe("k1");
  expect(table.stateOf("dialled")).toBeUndefined();
  expect(table.get("k1")).toBeUndefined();
  expect(table.peerCount).toBe(0);
  expect([...table.all()]).toEqual([]);
});

test("a refused connection was never a peer: it closes with no key; every open connection, pending ones too, is listed for bye-all", () => {
  const table = new ConnectionTable<string>();
  table.opened("refused");
  table.opened("peer");
  table.admitted("peer", "k2");
  // Opened twice (dialled, then arrived): still one pending entry, not reset once admitted.
  table.opened("peer");
  expect(table.stateOf("peer")).toBe("active");
  expect([...table.all()].sort()).toEqual(["peer", "refused"]);
  expect([...table.peers()]).toEqual(["peer"]);
  expect(table.leaving("refused")).toBeNull();
  expect(table.stateOf("refused")).toBe("pending");
  expect(table.closed("refused")).toBeNull();
  expect(table.closed("never-seen")).toBeNull();
  expect([...table.all()]).toEqual(["peer"]);
});
