/**
 * docker-compose.yml as written: its setup comment run in a shell, then every service's
 * `command` and `environment` run unchanged in a netlab host named after the service, so
 * `seed:7654` resolves as on the compose network. Only paths move: each volume's source
 * is a directory here, and the image's ENTRYPOINT is dist/bytetide.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT, tempDir } from "../helpers/fixtures.ts";
import {
  composeServices,
  containerEnv,
  dockerEntrypoint,
  entrypointMounts,
  mapPaths,
  shellWords,
  startOrder,
  treeDigest,
  writeWeights,
} from "../helpers/deploy.ts";
import { BINARY, createLab, type Lab, netlabAvailable, outputOf, watch, type Watched } from "../helpers/netlab.ts";

const COMPOSE = join(REPO_ROOT, "docker-compose.yml");
const services = composeServices(COMPOSE);
/** The shell lines of the header comment, indented under it: what the user types. */
const setupLines = readFileSync(COMPOSE, "utf8")
  .split("\n")
  .flatMap((l) => /^#\s{3,}(\S.*)$/.exec(l)?.[1] ?? []);
/** What a user runs that cannot run here, and what stands in for it. */
const NOT_RUN: Record<string, string> = {
  "docker compose up": "no Docker daemon or compose plugin here: this test starts each service itself, in a netlab host named after it",
};
/** The one thing the setup comment leaves to the reader. */
const SOURCE_WEIGHTS = "/path/to/weights";

let lab: Lab | null = null;
afterAll(() => lab?.down());

test("docker-compose.yml: every service runs the image's bytetide, every command in its comment is run here or says why not", () => {
  expect(dockerEntrypoint()).toEqual(["/usr/local/bin/bytetide"]);
  for (const s of services) expect(s.image, s.name).toBe("bytetide:local");
  expect(services.some((s) => s.build === ".")).toBe(true);
  expect(setupLines.length).toBeGreaterThan(0);
  for (const line of setupLines) {
    if (line in NOT_RUN) continue;
    expect(shellWords(line), line).toContain(SOURCE_WEIGHTS);
  }
  expect(setupLines.filter((l) => !(l in NOT_RUN))).toHaveLength(1);
});

test.skipIf(!netlabAvailable)(
  "docker-compose.yml: the seed and 3 peers, run as written in hosts named after the services, all VERIFY OK with the right bytes and the seed answers /healthz (needs root and iproute2)",
  async () => {
    const project = tempDir("bytetide-compose");
    const weights = join(project, "source", "weights");
    writeWeights(weights, 10 * 1024 * 1024, 31);
    // The comment's own setup, in the project directory with bytetide on PATH.
    const [setup] = setupLines.filter((l) => !(l in NOT_RUN));
    const prepared = Bun.spawnSync(["sh", "-c", setup!.replaceAll(SOURCE_WEIGHTS, weights)], {
      cwd: project,
      env: containerEnv({ PATH: `${dirname(BINARY)}:${process.env.PATH}` }),
      timeout: 60_000,
    });
    expect(prepared.exitCode, prepared.stderr.toString()).toBe(0);

    lab = createLab("btlc", services.length, 1000, services.map((s) => s.name));
    const l = lab;
    const host = (name: string) => services.findIndex((s) => s.name === name);
    const mountsOf = (s: (typeof services)[number]): Record<string, string> => {
      const mounts: Record<string, string> = entrypointMounts(BINARY);
      for (const v of s.volumes) {
        mounts[v.target] = v.bind ? join(project, v.source) : join(project, "volumes", v.source);
        mkdirSync(mounts[v.target]!, { recursive: true });
      }
      return mounts;
    };
    const running = new Map<string, Watched>();
    let ends: (readonly [string, { code: number; stdout: string; stderr: string }])[];
    try {
      // `compose up` starts each service after what it depends_on, without waiting for it to listen.
      for (const s of startOrder(services)) {
        const argv = mapPaths([...dockerEntrypoint(), ...s.command], mountsOf(s));
        running.set(s.name, watch(l.exec(host(s.name), argv, 120_000, { env: containerEnv(s.environment), cwd: "/" }), s.name));
      }
      const peers = services.filter((s) => s.command[0] === "get");
      const [seed] = services.filter((s) => s.command[0] === "serve");
      expect(peers.length).toBe(3);
      for (const p of peers) await running.get(p.name)!.waitFor(/^VERIFY OK [0-9a-f]{64}$/m, 90_000);
      // "Each peer is told only the seed's address and finds the others through it."
      const peerAddresses = peers.map((p) => `${l.addr(host(p.name)).replaceAll(".", "\\.")}:7654`);
      for (const [k, p] of peers.entries()) {
        const others = peerAddresses.filter((_, j) => j !== k).join("|");
        await running.get(p.name)!.waitFor(new RegExp(` peer-connected peer=(${others}) `), 15_000, "stderr");
      }
      const expected = treeDigest(join(project, "data", "weights"));
      for (const p of peers) {
        const output = mapPaths([p.command[p.command.indexOf("-o") + 1]!], mountsOf(p))[0]!;
        expect(treeDigest(output), p.name).toBe(expected);
      }

      // The seed's metrics port answers /healthz in its own namespace and, bound to 0.0.0.0, from the peers' too.
      const metricsPort = seed!.command[seed!.command.indexOf("--metrics") + 1]!.split(":").pop();
      for (const [from, url] of [
        [host(seed!.name), `http://127.0.0.1:${metricsPort}/healthz`],
        [host(peers[0]!.name), `http://${seed!.name}:${metricsPort}/healthz`],
      ] as const) {
        const r = await outputOf(l.exec(from, ["curl", "-sS", "--max-time", "5", url], 10_000));
        expect(r.stdout, `${url}: ${r.stderr}`).toBe("ok\n");
      }
    } finally {
      // `compose down` sends SIGTERM: every service says goodbye and exits 0.
      ends = await Promise.all([...running].map(async ([name, w]) => [name, await w.stop("SIGTERM")] as const));
    }
    for (const [name, end] of ends) expect(end.code, `${name}:\n${end.stdout}${end.stderr}`).toBe(0);
  },
  180_000,
);
