/**
 * deploy/kubernetes/bytetide.yaml as written: the seed Deployment's container and the
 * DaemonSet's container run with their args and env unchanged, in netlab hosts: one named
 * after the Service (bytetide-seed), so `--peer bytetide-seed:7654` resolves as cluster DNS
 * would, and one host per node. Pods also get the variables Kubernetes adds for the
 * Service (BYTETIDE_SEED_SERVICE_HOST, ...). Only paths move: each volumeMount's source is
 * a directory here, and the image's ENTRYPOINT is dist/bytetide; BYTETIDE_ID gets the
 * id of the package made here, as the manifest's comment asks the operator to set it; and
 * BYTETIDE_ZONE, from the downward API, the zone label of the host's node (downwardApi).
 *
 * Not run: `kubectl apply -f deploy/kubernetes/bytetide.yaml` (no cluster here; the
 * kubelet's part, starting containers and probing them, is done by this file).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/fixtures.ts";
import {
  containerEnv,
  dockerEntrypoint,
  entrypointMounts,
  type KubeObject,
  kubeObject,
  kubeObjects,
  mapPaths,
  serviceLinkEnv,
  treeDigest,
  writeWeights,
} from "../helpers/deploy.ts";
import { BINARY, createLab, type Lab, netlabAvailable, outputOf, watch, type Watched } from "../helpers/netlab.ts";

const NODES = 3;
const objects = kubeObjects();
const service = kubeObject(objects, "Service");
const seedDeployment = kubeObject(objects, "Deployment");
const nodeDaemonSet = kubeObject(objects, "DaemonSet");

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
  ports: { containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: number } };
}
const containerOf = (o: KubeObject): Container => {
  const containers = o.spec.template.spec.containers as Container[];
  expect(containers).toHaveLength(1);
  return containers[0]!;
};
/** Each volume of the pod, by name: "pvc <claim>" or "hostPath <path>". */
const volumesOf = (o: KubeObject): Record<string, string> =>
  Object.fromEntries(
    (o.spec.template.spec.volumes as { name: string; persistentVolumeClaim?: { claimName: string }; hostPath?: { path: string } }[]).map((v) => [
      v.name,
      v.persistentVolumeClaim ? `pvc ${v.persistentVolumeClaim.claimName}` : `hostPath ${v.hostPath!.path}`,
    ]),
  );

/**
 * What the kubelet puts in a variable taken from the downward API: the pod's zone label, as
 * PodTopologyLabels copies it from its node (host 1 and 2 in zone-a, the others in zone-b).
 */
function downwardApi(fieldPath: string, host: number): string {
  if (fieldPath !== "metadata.labels['topology.kubernetes.io/zone']") throw new Error(`the test does not emulate the downward API's ${fieldPath}`);
  return host <= 2 ? "zone-a" : "zone-b";
}

let lab: Lab | null = null;
afterAll(() => lab?.down());

test("the manifest: the Service selects the seed pods and exposes the ports the containers use; both containers run the Dockerfile's image", () => {
  expect(service.metadata.name).toBe(seedDeployment.metadata.name);
  expect(seedDeployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  for (const o of [seedDeployment, nodeDaemonSet]) {
    const c = containerOf(o);
    expect(c.image).toBe("bytetide:local");
    const used = [...c.args.join(" ").matchAll(/0\.0\.0\.0:(\d+)/g)].map((m) => Number(m[1]));
    expect(used.sort()).toEqual(c.ports.map((p) => p.containerPort).sort());
    expect(used).toContain(c.readinessProbe!.httpGet.port);
  }
  const seedArgs = containerOf(seedDeployment).args;
  for (const p of service.spec.ports as { port: number; targetPort: number }[]) expect(seedArgs.join(" ")).toContain(`0.0.0.0:${p.targetPort}`);
  expect(containerOf(nodeDaemonSet).args.join(" ")).toContain(`${service.metadata.name}:${(service.spec.ports as { port: number }[])[0]!.port}`);
  expect(dockerEntrypoint()).toEqual(["/usr/local/bin/bytetide"]);
});

/** Lab hosts: 0 is the seed pod, reached by the Service's name; 1..NODES are the DaemonSet's pods. */
interface Cluster {
  lab: Lab;
  pvc: string;
  /** The package's id, as make printed it. */
  id: string;
  nodeDir(n: number): string;
  /** Mount point -> directory here, for a pod of o on host. */
  mounts(o: KubeObject, host: number): Record<string, string>;
  start(o: KubeObject, host: number): Watched;
  /** The kubelet's readinessProbe: the container's httpGet against the pod's address. */
  ready(o: KubeObject, host: number): Promise<boolean>;
}

function cluster(prefix: string): Cluster {
  const dir = tempDir("bytetide-k8s");
  // The bytetide-package PVC: a .bpkg and its data, as the manifest's comment asks.
  const pvc = join(dir, "pvc-bytetide-package");
  writeWeights(join(pvc, "weights"), 10 * 1024 * 1024, 47);
  const made = Bun.spawnSync([BINARY, "make", join(pvc, "weights"), "-o", join(pvc, "weights.bpkg")], { timeout: 60_000 });
  expect(made.exitCode, made.stderr.toString()).toBe(0);
  const id = /^id +([0-9a-f]{64})$/m.exec(made.stdout.toString())![1]!;
  lab = createLab(prefix, NODES + 1, 1000, [service.metadata.name, ...Array.from({ length: NODES }, (_, n) => `node-${n + 1}`)]);
  const l = lab;
  const nodeDir = (n: number) => join(dir, `node-${n}`);
  const mountsFor = (o: KubeObject, host: number): Record<string, string> => {
    const volumes = volumesOf(o);
    const mounts = entrypointMounts(BINARY);
    for (const m of containerOf(o).volumeMounts) {
      const [kind, source] = volumes[m.name]!.split(" ");
      // A hostPath is per node; the PVC is the package, the same for every pod.
      mounts[m.mountPath] = kind === "pvc" ? pvc : join(nodeDir(host), source!);
      mkdirSync(mounts[m.mountPath]!, { recursive: true });
    }
    return mounts;
  };
  return {
    lab: l,
    pvc,
    id,
    nodeDir,
    mounts: mountsFor,
    start(o, host) {
      const c = containerOf(o);
      const value = (e: NonNullable<Container["env"]>[number]) => (e.name === "BYTETIDE_ID" ? id : e.valueFrom ? downwardApi(e.valueFrom.fieldRef.fieldPath, host) : e.value!);
      const env = { ...serviceLinkEnv(service, l.addr(0)), ...Object.fromEntries((c.env ?? []).map((e) => [e.name, value(e)])) };
      const argv = mapPaths([...dockerEntrypoint(), ...c.args], mountsFor(o, host));
      return watch(l.exec(host, argv, 150_000, { env: containerEnv(env), cwd: "/" }), `${o.metadata.name} on host ${host}`);
    },
    async ready(o, host) {
      const probe = containerOf(o).readinessProbe!.httpGet;
      const r = await outputOf(l.exec(host, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", `http://${l.addr(host)}:${probe.port}${probe.path}`], 10_000));
      return r.stdout === "200";
    },
  };
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(200);
  }
}

const stopAll = (pods: Watched[]) => Promise.all(pods.map((p) => p.stop("SIGTERM")));

test.skipIf(!netlabAvailable)(
  "deploy/kubernetes/bytetide.yaml: the seed Deployment and a DaemonSet on 3 nodes, run as written, all VERIFY OK with the right bytes and pass their readinessProbe (needs root and iproute2)",
  async () => {
    const c = cluster("btlk");
    const pods: Watched[] = [];
    let ends: { code: number; stdout: string; stderr: string }[];
    try {
      pods.push(c.start(seedDeployment, 0));
      await eventually(() => c.ready(seedDeployment, 0), "the seed pod is ready");
      for (let n = 1; n <= NODES; n++) pods.push(c.start(nodeDaemonSet, n));
      const expected = treeDigest(join(c.pvc, "weights"));
      for (let n = 1; n <= NODES; n++) {
        await pods[n]!.waitFor(/^VERIFY OK [0-9a-f]{64}$/m, 90_000);
        const args = containerOf(nodeDaemonSet).args;
        const output = mapPaths([args[args.indexOf("-o") + 1]!], c.mounts(nodeDaemonSet, n))[0]!;
        expect(treeDigest(output), `node ${n}`).toBe(expected);
        await eventually(() => c.ready(nodeDaemonSet, n), `node ${n}'s pod is ready`, 10_000);
      }
      // Each pod is told only the Service's name and finds the other pods through the seed.
      for (let n = 1; n <= NODES; n++) {
        const others = Array.from({ length: NODES }, (_, j) => j + 1).filter((j) => j !== n).map((j) => `${c.lab.addr(j).replaceAll(".", "\\.")}:7654`);
        await pods[n]!.waitFor(new RegExp(` peer-connected peer=(${others.join("|")}) `), 15_000, "stderr");
      }
      // `get --seed` keeps serving: still running after the others finished.
      await Bun.sleep(1_000);
      for (const p of pods) expect(p.proc.exitCode, p.stderr).toBeNull();
    } finally {
      // Pod deletion: SIGTERM, then 30 s of grace by default.
      ends = await stopAll(pods);
    }
    for (const e of ends) expect(e.code, e.stderr).toBe(0);
  },
  180_000,
);

test.skipIf(!netlabAvailable)(
  "deploy/kubernetes/bytetide.yaml: a DaemonSet pod restarted on a node that already has the data keeps serving it, seed down or not, as the manifest says (a pod that exits is restarted, then backed off) (needs root and iproute2)",
  async () => {
    const c = cluster("btlk");
    const pods: Watched[] = [];
    try {
      pods.push(c.start(seedDeployment, 0));
      await eventually(() => c.ready(seedDeployment, 0), "the seed pod is ready");
      const first = c.start(nodeDaemonSet, 1);
      pods.push(first);
      await first.waitFor(/^VERIFY OK [0-9a-f]{64}$/m, 90_000);
      expect((await first.stop("SIGTERM")).code).toBe(0);

      // The same pod again (a node reboot, an eviction, a new image), with the seed down:
      // the hostPath still holds the data, and the package it kept.
      await pods[0]!.stop("SIGTERM");
      const again = c.start(nodeDaemonSet, 1);
      pods.push(again);
      await again.waitFor(/^VERIFY OK [0-9a-f]{64}$/m, 30_000);
      await Bun.sleep(2_000);
      expect(again.proc.exitCode, `exited instead of serving:\n${again.stdout}${again.stderr}`).toBeNull();
      expect(await c.ready(nodeDaemonSet, 1)).toBe(true);

      // And it serves: a new node fetches the package and its data from the restarted pod alone.
      const fresh = c.lab.spawn(2, ["get", `bytetide://${c.lab.addr(1)}:7654/${c.id}`, "-o", join(c.nodeDir(2), "weights"), "--linger", "0"], 60_000);
      const r = await outputOf(fresh);
      expect(r.stdout, r.stderr).toStartWith("VERIFY OK");
    } finally {
      await stopAll(pods);
    }
  },
  180_000,
);
