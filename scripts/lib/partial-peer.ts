/**
 * Makes a download stopped part-way, holding exactly the chosen chunks, as `get` itself
 * would leave it after Ctrl-C: OUT.part with those chunks' bytes, and a clean OUT.btstate
 * recording them. A `get -o OUT` started on it resumes, and serves those chunks to anyone
 * who connects. The demos use it to build swarms with a chosen availability.
 *
 *   bun scripts/lib/partial-peer.ts <pkg.bpkg> <complete data> <OUT> <chunks>
 *
 * <chunks> is a comma-separated list of indexes and ranges: "0-99,120,126-127".
 * Every chunk is checked against the package before it is written, and the writing goes
 * through the download's own Output (src/storage/output.ts), so the files are exactly
 * the ones a real get leaves: nothing of the state format is repeated here.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DIGEST_LENGTH, sha256Of } from "../../src/hash/index.ts";
import { equalBytes } from "../../src/pkg/format.ts";
import { readPackage } from "../../src/pkg/io.ts";
import { chunkCountOf } from "../../src/pkg/model.ts";
import { PackageFiles } from "../../src/storage/files.ts";
import { Output, outputPaths } from "../../src/storage/output.ts";
import { stderrLogger } from "../../src/util/log.ts";

function fail(message: string): never {
  process.stderr.write(`partial-peer: ${message}\n`);
  process.exit(2);
}

/** "0-3,7" -> [0, 1, 2, 3, 7], each below `count`, sorted, without repeats. */
function parseChunks(spec: string, count: number): number[] {
  const chosen = new Set<number>();
  for (const part of spec.split(",").filter((p) => p.trim() !== "")) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) fail(`'${part}': expected an index or a range like 3-9`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > to || to >= count) fail(`'${part}': the package has chunks 0-${count - 1}`);
    for (let c = from; c <= to; c++) chosen.add(c);
  }
  return [...chosen].sort((a, b) => a - b);
}

const [pkgPath, dataPath, outPath, spec] = process.argv.slice(2);
if (spec === undefined) fail("usage: partial-peer.ts <pkg.bpkg> <complete data> <OUT> <chunks>");

const pkg = await readPackage(pkgPath!);
const chunks = parseChunks(spec, chunkCountOf(pkg));
const paths = outputPaths(resolve(outPath!));
if (existsSync(paths.part) || existsSync(paths.final)) fail(`${paths.part} or ${paths.final} already exists`);

mkdirSync(dirname(paths.final), { recursive: true });
const source = new PackageFiles(pkg, resolve(dataPath!), false);
const output = await Output.open(pkg, paths, stderrLogger("partial-peer"));
const buffer = new Uint8Array(pkg.chunkSize);
for (const c of chunks) {
  const length = source.chunkLength(c);
  const data = buffer.subarray(0, length);
  if ((await source.read(c, 0, [data])) !== length) fail(`${dataPath}: chunk ${c} is short`);
  const digest = sha256Of(data);
  if (!equalBytes(digest, pkg.chunkHashes.subarray(c * DIGEST_LENGTH, (c + 1) * DIGEST_LENGTH))) fail(`${dataPath}: chunk ${c} does not match the package`);
  await output.commit(c, data, digest);
}
// What get does on Ctrl-C: sync the data, then mark the state clean, so a resume trusts it.
await output.suspend();
source.close();
