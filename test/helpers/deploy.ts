/**
 * Running what the docs and deployment files say, as they say it: shell words, path
 * mounts, container environments, and the files (docker-compose.yml, the Kubernetes
 * manifest, the systemd unit, the Dockerfile) read as data rather than retyped.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT, seededBytes, sha256Hex } from "./fixtures.ts";

/**
 * The words of one command line as sh splits the simple lines docs show: blanks, single
 * and double quotes, backslashes, and a trailing `# comment`. No expansions.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && /["\\$`]/.test(line[i + 1] ?? "")) word += line[++i]!;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\") {
      word = (word ?? "") + (line[++i] ?? "");
    } else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "#" && word === null) {
      break;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} in: ${line}`);
  if (word !== null) words.push(word);
  return words;
}

/**
 * Each argument that is a mount point or lies below one (also as `--flag=PATH`) moved to
 * where the mount's source is on this machine; everything else stays as written.
 */
export function mapPaths(argv: string[], mounts: Record<string, string>): string[] {
  const points = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const mapOne = (path: string): string => {
    const point = points.find((p) => path === p || path.startsWith(`${p}/`));
    return point === undefined ? path : mounts[point]! + path.slice(point.length);
  };
  return argv.map((arg) => {
    const eq = /^(--[\w-]+=)(.*)$/.exec(arg);
    return eq ? eq[1]! + mapOne(eq[2]!) : mapOne(arg);
  });
}

/**
 * The environment a container's process starts with: the image's few basics and the
 * manifest's variables, and none of this test process's own (a stray BYTETIDE_* here
 * must not change what is tested).
 */
export function containerEnv(vars: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: "/root" };
  if (process.env.TMPDIR) base.TMPDIR = process.env.TMPDIR;
  return { ...base, ...vars };
}

/** The Dockerfile's final ENTRYPOINT (exec form), e.g. ["/usr/local/bin/bytetide"]. */
export function dockerEntrypoint(): string[] {
  const lines = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8").split("\n");
  const last = lines.filter((l) => /^ENTRYPOINT\s/.test(l)).pop();
  if (!last) throw new Error("Dockerfile has no ENTRYPOINT");
  return JSON.parse(last.replace(/^ENTRYPOINT\s+/, "")) as string[];
}

/** `image: bytetide:local` is the Dockerfile's image: its entrypoint is our binary. */
export function entrypointMounts(binary: string): Record<string, string> {
  const [program] = dockerEntrypoint();
  return { [program!]: binary };
}

export interface ComposeService {
  name: string;
  command: string[];
  environment: Record<string, string>;
  /** Mount point -> { source, readOnly }: a bind ("./data") or a named volume ("peer1"). */
  volumes: { target: string; source: string; bind: boolean; readOnly: boolean }[];
  dependsOn: string[];
  image?: string;
  build?: unknown;
}

/** docker-compose.yml's services, in file order, with anchors and `<<` merges applied. */
export function composeServices(path = join(REPO_ROOT, "docker-compose.yml")): ComposeService[] {
  const doc = Bun.YAML.parse(readFileSync(path, "utf8")) as { services: Record<string, Record<string, unknown>> };
  return Object.entries(doc.services).map(([name, s]) => {
    const env = s.environment;
    const environment: Record<string, string> = Array.isArray(env)
      ? Object.fromEntries((env as string[]).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]))
      : Object.fromEntries(Object.entries((env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    const command = s.command === undefined ? [] : Array.isArray(s.command) ? (s.command as string[]) : shellWords(String(s.command));
    const volumes = ((s.volumes ?? []) as string[]).map((v) => {
      const [source, target, mode] = v.split(":");
      return { source: source!, target: target!, bind: /^[./~]/.test(source!), readOnly: mode === "ro" };
    });
    const dependsOn = Array.isArray(s.depends_on) ? (s.depends_on as string[]) : Object.keys((s.depends_on ?? {}) as object);
    return { name, command, environment, volumes, dependsOn, image: s.image as string | undefined, build: s.build };
  });
}

/** Services ordered so that each comes after what it depends_on (what `compose up` does). */
export function startOrder(services: ComposeService[]): ComposeService[] {
  const done: ComposeService[] = [];
  const visit = (s: ComposeService, path: string[]) => {
    if (done.includes(s)) return;
    if (path.includes(s.name)) throw new Error(`depends_on cycle: ${[...path, s.name].join(" -> ")}`);
    for (const d of s.dependsOn) visit(services.find((x) => x.name === d) ?? raise(`${s.name} depends on unknown ${d}`), [...path, s.name]);
    done.push(s);
  };
  for (const s of services) visit(s, []);
  return done;
}

const raise = (message: string): never => {
  throw new Error(message);
};

/** Kubernetes objects are free-form below metadata; tests read the fields they need. */
export type KubeObject = { kind: string; metadata: { name: string }; spec: any };

export function kubeObjects(path = join(REPO_ROOT, "deploy", "kubernetes", "bytetide.yaml")): KubeObject[] {
  const parsed = Bun.YAML.parse(readFileSync(path, "utf8"));
  return (Array.isArray(parsed) ? parsed : [parsed]).filter(Boolean) as KubeObject[];
}

export function kubeObject(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ""} in the manifest`);
  return found;
}

/**
 * The variables Kubernetes puts in every pod for each Service of its namespace
 * (enableServiceLinks, on by default): for Service bytetide-seed that is BYTETIDE_SEED_*,
 * which shares bytetide's own BYTETIDE_ prefix, so the pods must run with them.
 */
export function serviceLinkEnv(service: KubeObject, clusterIp: string): Record<string, string> {
  const prefix = service.metadata.name.toUpperCase().replace(/-/g, "_");
  const ports = service.spec.ports as { name?: string; port: number; protocol?: string }[];
  const env: Record<string, string> = { [`${prefix}_SERVICE_HOST`]: clusterIp, [`${prefix}_SERVICE_PORT`]: String(ports[0]!.port) };
  for (const p of ports) {
    const proto = (p.protocol ?? "TCP").toUpperCase();
    if (p.name) env[`${prefix}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, "_")}`] = String(p.port);
    const link = `${prefix}_PORT_${p.port}_${proto}`;
    Object.assign(env, {
      [link]: `${proto.toLowerCase()}://${clusterIp}:${p.port}`,
      [`${link}_PROTO`]: proto.toLowerCase(),
      [`${link}_PORT`]: String(p.port),
      [`${link}_ADDR`]: clusterIp,
    });
  }
  env[`${prefix}_PORT`] = `${(ports[0]!.protocol ?? "tcp").toLowerCase()}://${clusterIp}:${ports[0]!.port}`;
  return env;
}

export interface SystemdUnit {
  /** section -> key -> every value given (keys may repeat) */
  sections: Record<string, Record<string, string[]>>;
  comments: string[];
}

export function systemdUnit(path = join(REPO_ROOT, "deploy", "systemd", "bytetide-serve.service")): SystemdUnit {
  const sections: SystemdUnit["sections"] = {};
  const comments: string[] = [];
  let section = "";
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || line.startsWith(";")) comments.push(raw);
    else if (/^\[.+\]$/.test(line)) sections[(section = line.slice(1, -1))] = {};
    else if (line.includes("=")) {
      const key = line.slice(0, line.indexOf("=")).trim();
      ((sections[section] ??= {})[key] ??= []).push(line.slice(line.indexOf("=") + 1).trim());
    }
  }
  return { sections, comments };
}

/** KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blanks skipped, quotes removed). */
export function environmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not KEY=VALUE: ${raw}`);
    env[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return env;
}

/**
 * A small model-like directory: a few files (one in a subdirectory), an empty directory
 * and an internal symlink, about `bytes` in all, the same for the same seed.
 */
export function writeWeights(dir: string, bytes: number, seed: number): void {
  mkdirSync(join(dir, "shards"), { recursive: true });
  mkdirSync(join(dir, "cache"));
  const third = Math.floor(bytes / 3);
  writeFileSync(join(dir, "shards", "part-0.bin"), seededBytes(third, seed));
  writeFileSync(join(dir, "shards", "part-1.bin"), seededBytes(bytes - 2 * third, seed + 1));
  writeFileSync(join(dir, "model.bin"), seededBytes(third, seed + 2));
  writeFileSync(join(dir, "config.json"), `{"name": "weights", "seed": ${seed}}\n`);
  symlinkSync("shards/part-0.bin", join(dir, "first-shard"));
}

/** Every entry below dir with its kind and content digest, so two trees compare as strings. */
export function treeDigest(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (e.isSymbolicLink()) lines.push(`link ${rel}`);
      else if (e.isDirectory()) {
        lines.push(`dir ${rel}`);
        walk(p);
      } else lines.push(`file ${rel} ${sha256Hex(readFileSync(p))}`);
    }
  };
  walk(dir);
  return lines.join("\n");
}
