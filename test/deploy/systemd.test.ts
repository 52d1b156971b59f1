/**
 * deploy/systemd/bytetide-serve.service as written: ExecStart runs unchanged apart from
 * paths, as an unprivileged user (the unit's DynamicUser) reading only root-owned data,
 * with the settings its comment suggests in the EnvironmentFile; a get on another host
 * fetches from it, and SIGTERM (its KillSignal) stops it cleanly within TimeoutStopSec.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir } from "../helpers/fixtures.ts";
import { containerEnv, environmentFile, mapPaths, shellWords, systemdUnit, treeDigest, writeWeights } from "../helpers/deploy.ts";
import { BINARY, createLab, type Lab, netlabAvailable, outputOf, watch } from "../helpers/netlab.ts";

const UNIT_PATH = join(REPO_ROOT, "deploy", "systemd", "bytetide-serve.service");
const unit = systemdUnit(UNIT_PATH);
const service = unit.sections.Service!;
const one = (key: string): string => {
  const values = service[key] ?? [];
  expect(values, key).toHaveLength(1);
  return values[0]!;
};
/** The settings the unit's comment shows for its EnvironmentFile, as that file's lines. */
const SUGGESTED_SETTINGS = unit.comments.flatMap((c) => /^#\s+(BYTETIDE_[A-Z_]+=\S+)\s*$/.exec(c)?.[1] ?? []);
/** The install steps in the unit's comment that do not run here, and why. */
const NOT_RUN: Record<string, string> = {
  "cp dist/bytetide-linux-x64 /usr/local/bin/bytetide": "installs into this machine's /usr/local/bin; the test copies dist/bytetide into its own directory in its place (test/operator/release.test.ts checks the release artifact)",
  "systemctl daemon-reload": "systemd is not PID 1 here; `systemd-analyze verify` checks the unit instead",
  "systemctl enable --now bytetide-serve": "systemd is not PID 1 here; the test runs ExecStart itself, as systemd would",
};
const canDropRoot = Bun.which("setpriv") !== null;
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

let lab: Lab | null = null;
afterAll(() => lab?.down());

test("bytetide-serve.service: the install steps that cannot run here are still the ones its comment gives", () => {
  const install = unit.comments.join("\n");
  for (const step of Object.keys(NOT_RUN)) expect(install).toContain(step);
  expect(one("KillSignal")).toBe("SIGTERM");
  expect(SUGGESTED_SETTINGS.length).toBeGreaterThan(0);
});

/**
 * Paths the unit and its settings name, and where they are in this test. The executable is
 * copied in, as the install step copies it: the service's user must reach it, which it
 * cannot inside a clone under a 0700 directory.
 */
function layout(dir: string): Record<string, string> {
  const executable = join(dir, "bin", "bytetide");
  mkdirSync(join(dir, "bin"), { mode: 0o755 });
  copyFileSync(BINARY, executable);
  chmodSync(executable, 0o755);
  return {
    "/usr/local/bin/bytetide": executable,
    "/srv/bytetide": join(dir, "srv"),
    "/etc/default/bytetide": join(dir, "etc-default-bytetide"),
    "/etc/bytetide/secret": join(dir, "secret"),
    "/run/credentials/bytetide-serve.service/secret": join(dir, "credentials", "secret"),
  };
}

test.skipIf(!Bun.which("systemd-analyze"))("bytetide-serve.service passes `systemd-analyze verify` with its paths mapped (needs systemd-analyze)", () => {
  const dir = tempDir("bytetide-systemd-verify");
  const paths = layout(dir);
  mkdirSync(paths["/srv/bytetide"]!);
  // Only the directives' paths move; comments and everything else stay as they are.
  const text = readFileSync(UNIT_PATH, "utf8")
    .split("\n")
    .map((l) => (l.startsWith("#") ? l : Object.entries(paths).reduce((acc, [from, to]) => acc.replaceAll(from, to), l)))
    .join("\n");
  const copy = join(dir, "bytetide-serve.service");
  writeFileSync(copy, text);
  const r = Bun.spawnSync(["systemd-analyze", "verify", copy], { timeout: 30_000 });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
});

test.skipIf(!netlabAvailable || !canDropRoot)(
  "bytetide-serve.service: ExecStart as written serves /srv/bytetide as an unprivileged user with the suggested settings, a get on another host fetches from it, ExecReload (SIGHUP) rechecks and it serves on, SIGTERM stops it with exit 0 (needs root, iproute2 and setpriv)",
  async () => {
    const dir = tempDir("bytetide-systemd");
    chmodSync(dir, 0o755);
    const paths = layout(dir);
    const srv = paths["/srv/bytetide"]!;
    writeWeights(join(srv, "weights"), 6 * 1024 * 1024, 53);
    const made = Bun.spawnSync([BINARY, "make", join(srv, "weights")], { timeout: 60_000 });
    expect(made.exitCode, made.stderr.toString()).toBe(0);
    chmodSync(srv, 0o755);
    // The settings file as the comment suggests it. The secret stays root-only; what
    // LoadCredential= does is done by hand: a copy only the service's user can read.
    expect(unit.comments.join("\n")).toContain("#LoadCredential=secret:/etc/bytetide/secret");
    writeFileSync(paths["/etc/default/bytetide"]!, `${SUGGESTED_SETTINGS.join("\n")}\n`);
    writeFileSync(paths["/etc/bytetide/secret"]!, "a cluster secret of more than 16 bytes\n", { mode: 0o600 });
    const credential = paths["/run/credentials/bytetide-serve.service/secret"]!;
    mkdirSync(join(credential, ".."), { mode: 0o755 });
    writeFileSync(credential, readFileSync(paths["/etc/bytetide/secret"]!), { mode: 0o400 });
    chownSync(credential, 65534, 65534);
    const settings = Object.fromEntries(Object.entries(environmentFile(readFileSync(paths["/etc/default/bytetide"]!, "utf8"))).map(([k, v]) => [k, mapPaths([v], paths)[0]!]));
    expect(Object.keys(settings)).toContain("BYTETIDE_SECRET_FILE");

    lab = createLab("btls", 2, 1000, ["seed-host", "node1"]);
    const l = lab;
    const execStart = mapPaths(shellWords(one("ExecStart")), paths);
    const server = watch(l.exec(0, [...NOBODY, ...execStart], 120_000, { env: containerEnv(settings), cwd: "/" }), "bytetide-serve");
    let stopped: { code: number; stdout: string; stderr: string };
    let stopSeconds: number;
    try {
      const listen = execStart[execStart.indexOf("--listen") + 1]!;
      await server.waitFor(new RegExp(`serving 1 package on ${listen.replaceAll(".", "\\.")}`), 20_000);

      // --metrics 127.0.0.1:9464: /healthz on the host itself, and nothing from the network.
      const metrics = execStart[execStart.indexOf("--metrics") + 1]!;
      const local = await outputOf(l.exec(0, ["curl", "-sS", "--max-time", "5", `http://${metrics}/healthz`], 10_000));
      expect(local.stdout, local.stderr).toBe("ok\n");
      const remote = await outputOf(l.exec(1, ["curl", "-sS", "--max-time", "5", `http://seed-host:${metrics.split(":")[1]}/healthz`], 10_000));
      expect(remote.code).not.toBe(0);

      const pkg = join(srv, "weights.bpkg");
      const port = listen.split(":")[1];
      const refused = await outputOf(l.spawn(1, ["get", pkg, "--peer", `seed-host:${port}`, "-o", join(dir, "no-secret"), "--retry-for", "2s", "--linger", "0"], 60_000));
      expect(refused.code, `a get without the EnvironmentFile's secret is refused:\n${refused.stderr}`).toBe(8);
      const fetched = await outputOf(
        l.spawn(1, ["get", pkg, "--peer", `seed-host:${port}`, "-o", join(dir, "node1", "weights"), "--secret-file", paths["/etc/bytetide/secret"]!, "--linger", "0"], 60_000),
      );
      expect(fetched.stdout, fetched.stderr).toStartWith("VERIFY OK");
      expect(treeDigest(join(dir, "node1", "weights"))).toBe(treeDigest(join(srv, "weights")));

      // ExecReload as written (systemctl reload): SIGHUP proves damaged chunks again, and the seed serves on.
      const reload = shellWords(one("ExecReload")).map((word) => (word === "$MAINPID" ? String(server.proc.pid) : word));
      expect(Bun.spawnSync(reload).exitCode).toBe(0);
      await server.waitFor(/ serve recheck package=[0-9a-f]{64} chunks=0\n/, 10_000, "stderr");
      const again = await outputOf(
        l.spawn(1, ["get", pkg, "--peer", `seed-host:${port}`, "-o", join(dir, "node1", "weights-again"), "--secret-file", paths["/etc/bytetide/secret"]!, "--linger", "0"], 60_000),
      );
      expect(again.stdout, again.stderr).toStartWith("VERIFY OK");
    } finally {
      const t0 = performance.now();
      stopped = await server.stop("SIGTERM");
      stopSeconds = (performance.now() - t0) / 1000;
    }
    // KillSignal=SIGTERM: a clean exit well within TimeoutStopSec, or systemd would SIGKILL it.
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopSeconds).toBeLessThan(Number(one("TimeoutStopSec")));
  },
  120_000,
);
