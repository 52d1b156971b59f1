import { expect, test } from "bun:test";
import fc from "fast-check";
import { isIP } from "node:net";
import { isIPLiteral } from "../../src/util/address.ts";

test("an IP literal is told from a host name as node:net tells it", () => {
  const cases = [
    "127.0.0.1", "10.77.0.12", "255.255.255.255", "0.0.0.0", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04",
    "::1", "::", "fd00::12", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1", "1::2::3", ":::", "12345::", "fe80::1:",
    "seed-host", "seed.cluster.local", "localhost", "", "abc", "a:b", "deadbeef", "1e3.0.0.1", "[::1]",
  ];
  for (const host of cases) expect([host, isIPLiteral(host)]).toEqual([host, isIP(host) !== 0]);
  const hexAndColons = fc.stringMatching(/^[0-9a-f:.]{0,24}$/);
  fc.assert(fc.property(fc.oneof(hexAndColons, fc.ipV4(), fc.ipV6(), fc.domain()), (host) => expect(isIPLiteral(host)).toBe(isIP(host) !== 0)), { numRuns: 2000 });
});
