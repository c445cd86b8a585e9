/**
 * A real Kubernetes control plane for tests, like controller-runtime's envtest: etcd + kube-apiserver on
 * free loopback ports with token authentication and RBAC, an admin kubeconfig, and CRDs installed.
 * Binaries come from KUBEBUILDER_ASSETS when set, otherwise from hack/ensure-control-plane.sh (cached).
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Agent, fetch } from "undici";
import { parseAllDocuments } from "yaml";
import { startProcess, type ManagedProcess } from "./process.ts";
import { freePort, waitFor } from "./ports.ts";

export const REPO_DIR = resolve(import.meta.dirname, "../..");

export interface ControlPlane {
  readonly server: string;
  readonly token: string;
  readonly kubeconfigPath: string;
  readonly dir: string;
  stop(): Promise<void>;
  /** Kills one component (SIGKILL, as a crash) and starts it again on the same ports and data; waits for /readyz. */
  restart(component: "etcd" | "kube-apiserver"): Promise<void>;
  /** Compacts etcd's history up to now, so watches resumed from older resourceVersions get 410 Gone. */
  compact(): Promise<void>;
}

export function controlPlaneAssets(): string {
  const fromEnv = process.env.KUBEBUILDER_ASSETS;
  if (fromEnv) return fromEnv;
  return execFileSync("bash", [join(REPO_DIR, "hack/ensure-control-plane.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

function kubeconfigYaml(server: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: envtest",
    "  cluster:",
    `    server: ${server}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: admin",
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: envtest",
    "  context: {cluster: envtest, user: admin, namespace: default}",
    "current-context: envtest",
    "",
  ].join("\n");
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

/** A minimal authenticated request to the API server, for harness chores that precede a client. */
export async function apiRequest(
  cp: Pick<ControlPlane, "server" | "token">,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(cp.server + path, {
    method,
    dispatcher: insecure,
    headers: { authorization: `Bearer ${cp.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (e.g. /readyz says "ok")
  }
  return { status: res.status, json };
}

export async function startControlPlane(
  opts: { assets?: string; keepDir?: boolean } = {},
): Promise<ControlPlane> {
  const assets = opts.assets ?? controlPlaneAssets();
  for (const bin of ["etcd", "kube-apiserver"]) {
    if (!existsSync(join(assets, bin))) throw new Error(`${bin} not found in ${assets} (KUBEBUILDER_ASSETS)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "metalpool-cp-"));
  const processes: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const p of processes.reverse()) await p.stop();
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const token = randomBytes(24).toString("hex");
    writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin,system:masters\n`);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }));
    mkdirSync(join(dir, "certs"));
    let restarts = 0;
    const logOf = (name: string): string => join(dir, restarts ? `${name}.${restarts}.log` : `${name}.log`);
    const launchEtcd = (): ManagedProcess =>
      startProcess(
        "etcd",
        join(assets, "etcd"),
        [
          "--data-dir",
          join(dir, "etcd"),
          "--listen-client-urls",
          `http://127.0.0.1:${etcdClient}`,
          "--advertise-client-urls",
          `http://127.0.0.1:${etcdClient}`,
          "--listen-peer-urls",
          `http://127.0.0.1:${etcdPeer}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${etcdPeer}`,
          "--initial-cluster",
          `default=http://127.0.0.1:${etcdPeer}`,
          "--unsafe-no-fsync",
        ],
        { logFile: logOf("etcd") },
      );
    processes.push(launchEtcd());
    const server = `https://127.0.0.1:${apiPort}`;
    const launchApiServer = (): ManagedProcess =>
      startProcess(
        "kube-apiserver",
        join(assets, "kube-apiserver"),
        [
          "--etcd-servers",
          `http://127.0.0.1:${etcdClient}`,
          "--secure-port",
          String(apiPort),
          "--bind-address",
          "127.0.0.1",
          "--advertise-address",
          "127.0.0.1",
          "--cert-dir",
          join(dir, "certs"),
          "--token-auth-file",
          join(dir, "tokens.csv"),
          "--authorization-mode",
          "RBAC",
          "--service-account-issuer",
          "https://kubernetes.default.svc.cluster.local",
          "--service-account-key-file",
          join(dir, "sa.key"),
          "--service-account-signing-key-file",
          join(dir, "sa.key"),
          "--service-cluster-ip-range",
          "10.0.0.0/24",
          "--allow-privileged=true",
          "--disable-admission-plugins",
          "ServiceAccount",
        ],
        { logFile: logOf("kube-apiserver") },
      );
    processes.push(launchApiServer());
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, token));
    const ready = (): Promise<void> =>
      waitFor(
        "kube-apiserver /readyz",
        async () => {
          for (const p of processes) {
            if (p.exited()) throw new Error(`${p.name} exited; see its log in ${dir}`);
          }
          return (await apiRequest(cp, "GET", "/readyz").catch(() => ({ status: 0 }))).status === 200;
        },
        60_000,
      );
    const restart = async (component: "etcd" | "kube-apiserver"): Promise<void> => {
      const at = processes.findIndex((p) => p.name === component);
      const old = processes[at] as ManagedProcess;
      old.signal("SIGKILL");
      await old.exitCode();
      restarts += 1;
      processes[at] = component === "etcd" ? launchEtcd() : launchApiServer();
      await ready();
    };
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const compact = async (): Promise<void> => {
      // etcd's JSON gateway: read the current revision, then compact everything before it.
      const post = async (path: string, body: unknown): Promise<{ header?: { revision?: string } }> => {
        const res = await fetch(`${etcdUrl}${path}`, { method: "POST", body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as { header?: { revision?: string } };
      };
      const { header } = await post("/v3/kv/range", { key: Buffer.from("/").toString("base64") });
      await post("/v3/kv/compaction", { revision: header?.revision, physical: true });
    };
    const cp: ControlPlane = { server, token, kubeconfigPath, dir, stop, restart, compact };
    await ready();
    return cp;
  } catch (err) {
    const logs = ["etcd.log", "kube-apiserver.log"]
      .map((f) => join(dir, f))
      .filter(existsSync)
      .map((f) => `--- ${f}\n${readFileSync(f, "utf8").split("\n").slice(-20).join("\n")}`)
      .join("\n");
    await stop();
    throw new Error(`control plane failed to start: ${String(err)}\n${logs}`, { cause: err });
  }
}

/** Every CRD the tests need: ours (crds/) and the pinned upstream ones of Tinkerbell and machine-controller. */
export function crdFiles(): string[] {
  const upstream = execFileSync("bash", [join(REPO_DIR, "hack/fetch-upstream-crds.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  const yamlIn = (d: string): string[] =>
    readdirSync(d)
      .filter((f) => f.endsWith(".yaml"))
      .sort()
      .map((f) => join(d, f));
  return [
    ...yamlIn(join(REPO_DIR, "crds")),
    ...yamlIn(join(upstream, "tinkerbell")),
    ...yamlIn(join(upstream, "machine-controller")),
  ];
}

type Crd = { metadata: { name: string }; spec: unknown };

async function applyCrd(cp: Pick<ControlPlane, "server" | "token">, crd: Crd, file: string): Promise<void> {
  const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const created = await apiRequest(cp, "POST", base, crd);
  if (created.status < 300) return;
  if (created.status !== 409) {
    throw new Error(`creating CRD ${crd.metadata.name} from ${file}: ${JSON.stringify(created.json)}`);
  }
  const current = await apiRequest(cp, "GET", `${base}/${crd.metadata.name}`);
  const rv = (current.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const replaced = await apiRequest(cp, "PUT", `${base}/${crd.metadata.name}`, {
    ...crd,
    metadata: { ...crd.metadata, resourceVersion: rv },
  });
  if (replaced.status >= 300)
    throw new Error(`updating CRD ${crd.metadata.name}: ${JSON.stringify(replaced.json)}`);
}

/** Creates (or replaces) every CRD in the files and waits until all are Established. */
export async function installCrds(
  cp: Pick<ControlPlane, "server" | "token">,
  files: string[],
): Promise<string[]> {
  const crds = files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8"))
      .map((doc) => doc.toJS() as (Crd & { kind?: string }) | null)
      .filter((crd): crd is Crd => crd?.kind === "CustomResourceDefinition")
      .map((crd) => ({ crd, file })),
  );
  for (const { crd, file } of crds) await applyCrd(cp, crd, file);
  const names = crds.map(({ crd }) => crd.metadata.name);
  for (const name of names) {
    await waitFor(
      `CRD ${name} established`,
      async () => {
        const res = await apiRequest(
          cp,
          "GET",
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
        );
        const status = (res.json as { status?: { conditions?: { type: string; status: string }[] } }).status;
        return (status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
      },
      30_000,
      100,
    );
  }
  return names;
}
