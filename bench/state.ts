/**
 * What recording one verified chunk in the progress file costs, for a package of a thousand
 * chunks and one of a million: the record (one byte, docs/protocol.md "Resume") against
 * rewriting the whole file, as version 1 of the format did, in the same run.
 *   bun bench/state.ts [--records 20000]
 * Target (issue: progress-file cost that stays flat): the per-record cost at a million chunks
 * equals that at a thousand (ratio about 1; noise is a few tens of percent).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chunkRecord, encodeState } from "../src/storage/state.ts";
import { Bitset } from "../src/util/bitset.ts";
import { report, round } from "./harness.ts";

const { values } = parseArgs({ options: { records: { type: "string", default: "20000" } } });
const records = Number(values.records);
const root = new Uint8Array(32).fill(7);
const dir = mkdtempSync(join(tmpdir(), "bytetide-state-bench-"));

/** Microseconds per record, median of three passes: `write` records chunk c of `verified` to fd. */
function perRecord(chunkCount: number, count: number, write: (fd: number, verified: Bitset, chunk: number) => void): number {
  const passes: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const verified = new Bitset(chunkCount);
    const fd = openSync(join(dir, `state-${chunkCount}`), "w+");
    const whole = encodeState({ root, verified, clean: false });
    writeSync(fd, whole, 0, whole.length, 0);
    const step = Math.max(1, Math.floor(chunkCount / count));
    const started = performance.now();
    let n = 0;
    for (let c = 0; c < chunkCount && n < count; c += step, n++) {
      verified.add(c);
      write(fd, verified, c);
    }
    passes.push(((performance.now() - started) * 1000) / n);
    closeSync(fd);
  }
  return passes.sort((a, b) => a - b)[1]!;
}

const oneByte = (fd: number, verified: Bitset, chunk: number) => {
  const { offset, bytes } = chunkRecord(verified, chunk);
  writeSync(fd, bytes, 0, bytes.length, offset);
};
const wholeFile = (fd: number, verified: Bitset) => {
  const bytes = encodeState({ root, verified, clean: false });
  writeSync(fd, bytes, 0, bytes.length, 0);
};

try {
  // Warm-up, so neither size pays for the compiler.
  perRecord(1_000, records, oneByte);
  const small = perRecord(1_000, records, oneByte);
  const large = perRecord(1_000_000, records, oneByte);
  const wholeSmall = perRecord(1_000, records, wholeFile);
  // Whole-file records cost milliseconds at a million chunks: fewer of them.
  const wholeLarge = perRecord(1_000_000, Math.min(records, 200), wholeFile);
  report("state", {
    bench: "state",
    command: `bench/run_bench state --records ${records}`,
    records,
    record_us: { chunks_1k: round(small, 2), chunks_1m: round(large, 2) },
    ratio_1m_over_1k: round(large / small, 2),
    whole_file_record_us: { chunks_1k: round(wholeSmall, 2), chunks_1m: round(wholeLarge, 2) },
    whole_file_ratio_1m_over_1k: round(wholeLarge / wholeSmall, 1),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
