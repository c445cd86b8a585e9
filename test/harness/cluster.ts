/**
 * A real single-node Kubernetes cluster for tests: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kubelet and kube-proxy at the pinned version, containerd + runc + CNI bridge from Debian,
 * all inside a network namespace of their own (the "node"), joined to the root namespace by a veth pair.
 * Pods are real containers from images imported into containerd (our image, built by hack/build-image.sh;
 * the pause image from Kubernetes' pause.c). hack/ensure-cluster.sh builds and caches every binary and image.
 *
 * Nothing outlives the test: stop() deletes the pods through the kubelet (so CNI tears their networks down),
 * then force-deletes any container left, ends containerd's shims, unmounts everything under the cluster's
 * directory and deletes the namespace. A cluster whose test process died is swept by the next start.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { apiRequest, crdFiles, installCrds, REPO_DIR } from "./control-plane.ts";
import { NET, NODE_NAME, writeClusterFiles, type ClusterFiles } from "./cluster-config.ts";
import { waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export { NET, NODE_NAME } from "./cluster-config.ts";

/** What hack/ensure-cluster.sh found or built. */
export interface ClusterAssets {
  ETCD: string;
  KUBE_APISERVER: string;
  KUBE_CONTROLLER_MANAGER: string;
  KUBE_SCHEDULER: string;
  KUBELET: string;
  KUBE_PROXY: string;
  CONTAINERD: string;
  CTR: string;
  RUNC: string;
  CNI_BIN_DIR: string;
  HELM: string;
  IMAGE_ARCHIVE: string;
  IMAGE_REF: string;
  PAUSE_ARCHIVE: string;
  PAUSE_REF: string;
}

export type Assets = { ok: true; assets: ClusterAssets } | { ok: false; why: string };

/**
 * Builds or finds everything (cached; the first run builds Kubernetes and the image, ~15 min on 2 cores).
 * Not ok, with the reason, when a cluster cannot run here (not root, a missing tool); tests skip with it.
 */
export function clusterAssets(): Assets {
  const res = spawnSync("bash", [join(REPO_DIR, "hack/ensure-cluster.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status === 3) return { ok: false, why: res.stderr.trim().split("\n").at(-1) ?? "unavailable" };
  if (res.status !== 0) throw new Error(`hack/ensure-cluster.sh failed (${res.status}):\n${res.stderr}`);
  const assets = Object.fromEntries(
    res.stdout
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  ) as unknown as ClusterAssets;
  return { ok: true, assets };
}

export interface Cluster {
  readonly dir: string;
  readonly assets: ClusterAssets;
  /** https://<node address>:6443, reachable from the test process over the veth pair. */
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly kc: KubeConfig;
  readonly token: string;
  readonly netns: string;
  /** Milliseconds from start to each milestone, for reports. */
  readonly timings: Record<string, number>;
  /** Runs a command inside the node's network namespace (like a process on the node). */
  onNode(command: string, args: string[], opts?: { input?: string | Uint8Array }): string;
  /** Runs helm against this cluster with the admin kubeconfig. */
  helm(...args: string[]): Promise<string>;
  /** Imports an OCI or docker archive into containerd's k8s.io namespace, optionally under extra names. */
  importImage(archive: string, ...extraRefs: string[]): void;
  /** Adds a name to an image containerd already has (a "new tag" without a new build). */
  tagImage(ref: string, newRef: string): void;
  /** The host pid of a running container's main process, from a pod's containerID ("containerd://…"). */
  containerPid(containerID: string): number;
  /** The log file of a container, as the kubelet writes it (podLogsDir), or undefined. */
  containerLogs(namespace: string, pod: string, container: string): string;
  stop(): Promise<void>;
}

interface ClusterRecord {
  netns: string;
  hostVeth: string;
  owner: number;
}

const execFileAsync = promisify(execFile);

const PREFIX = "metalpool-cluster-";

const run = (command: string, ...args: string[]): string =>
  execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const tryRun = (command: string, ...args: string[]): void => {
  spawnSync(command, args, { stdio: "ignore" });
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes whose command line mentions `needle` (our containerd's shims name its socket). */
function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Mount points at or below dir, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes whatever a cluster left in dir and its namespace, gracefully stopped or not: containers (runc
 * force-delete kills every process in them), containerd's shims, mounts, the namespace, the directory.
 */
function teardown(dir: string, record: ClusterRecord, runc: string): void {
  const runcRoot = join(dir, "runc/k8s.io");
  if (existsSync(runcRoot)) {
    for (const id of readdirSync(runcRoot)) tryRun(runc, "--root", runcRoot, "delete", "--force", id);
  }
  for (const pid of pidsMentioning(join(dir, "containerd/containerd.sock"))) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const mount of mountsUnder(dir)) tryRun("umount", "-l", mount);
  removeKubepodsCgroups();
  tryRun("ip", "link", "del", record.hostVeth);
  tryRun("ip", "netns", "del", record.netns);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The kubelet's cgroups (kubepods/…, one tree per cgroup v1 controller and the unified one), removed once
 * empty — unless some other kubelet runs on this machine and may be using them.
 */
function removeKubepodsCgroups(): void {
  const kubeletRunning = readdirSync("/proc").some((entry) => {
    try {
      return /^\d+$/.test(entry) && readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "kubelet";
    } catch {
      return false;
    }
  });
  if (kubeletRunning) return;
  const removeTree = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) removeTree(join(path, entry.name));
    }
    try {
      rmdirSync(path);
    } catch {
      // still has a process: left to the kernel to report
    }
  };
  if (!existsSync("/sys/fs/cgroup")) return;
  for (const controller of readdirSync("/sys/fs/cgroup")) {
    const tree = join("/sys/fs/cgroup", controller, "kubepods");
    if (existsSync(tree)) removeTree(tree);
  }
}

/** Clusters of test processes that died without stopping them. */
function sweepStale(runc: string): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(PREFIX)) continue;
    const dir = join(tmpdir(), entry);
    const file = join(dir, "cluster.json");
    if (!existsSync(file)) continue;
    const record = JSON.parse(readFileSync(file, "utf8")) as ClusterRecord;
    if (!alive(record.owner)) teardown(dir, record, runc);
  }
}

function tail(file: string, lines = 25): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "";
}

export async function startCluster(assets: ClusterAssets): Promise<Cluster> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = Date.now() - t0;
  };
  sweepStale(assets.RUNC);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const id = dir.slice(-6).replace(/[^A-Za-z0-9]/g, "x");
  const record: ClusterRecord = { netns: `mpk-${id}`, hostVeth: `mpk${id}h`, owner: process.pid };
  writeFileSync(join(dir, "cluster.json"), JSON.stringify(record));
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const processes = new Map<string, ManagedProcess>();
  const netnsPath = `/var/run/netns/${record.netns}`;
  const onNode = (command: string, args: string[], opts: { input?: string | Uint8Array } = {}): string =>
    execFileSync("nsenter", [`--net=${netnsPath}`, "--", command, ...args], {
      encoding: "utf8",
      input: opts.input,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
  const launch = (name: string, binary: string, args: string[]): void => {
    processes.set(
      name,
      startProcess(name, "nsenter", [`--net=${netnsPath}`, "--", binary, ...args], {
        logFile: join(logs, `${name}.log`),
      }),
    );
  };
  /** Polls like waitFor, but gives up at once when a component has exited, naming it. */
  const untilUp = async (
    what: string,
    probe: () => boolean | Promise<boolean>,
    timeoutMs: number,
  ): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = [...processes.values()].find((p) => p.exited());
      if (dead) throw new Error(`${dead.name} exited while waiting for ${what}`);
      if (await Promise.resolve(probe()).catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  let files: ClusterFiles | undefined;
  const ctr = (...args: string[]): string =>
    run(assets.CTR, "--address", join(dir, "containerd/containerd.sock"), "--namespace", "k8s.io", ...args);

  const stopAll = async (): Promise<void> => {
    // Nothing may replace what we delete, and every pod goes through the kubelet so CNI releases its network.
    for (const name of ["kube-controller-manager", "kube-scheduler"]) await processes.get(name)?.stop();
    if (files && processes.get("kubelet") && !processes.get("kubelet")?.exited()) {
      await deleteAllPods({
        server: `https://${NET.nodeAddress}:${NET.apiPort}`,
        token: files.adminToken,
      }).catch(() => undefined);
      await waitFor(
        "every container stopped",
        () => Promise.resolve(ctr("tasks", "ls", "-q").trim() === ""),
        30_000,
        250,
      ).catch(() => undefined);
    }
    for (const name of ["kubelet", "kube-proxy", "containerd", "kube-apiserver", "etcd"]) {
      await processes.get(name)?.stop();
    }
    teardown(dir, record, assets.RUNC);
  };

  try {
    // The node's network: its own namespace, reached over a veth pair. Service and pod addresses are routed to
    // it, so the test process reaches ClusterIPs and pods as a machine next to the node would.
    run("ip", "netns", "add", record.netns);
    run("ip", "link", "add", record.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", record.netns);
    run("ip", "addr", "add", `${NET.hostAddress}/${NET.vethPrefix}`, "dev", record.hostVeth);
    run("ip", "link", "set", record.hostVeth, "up");
    onNode("ip", ["link", "set", "lo", "up"]);
    onNode("ip", ["addr", "add", `${NET.nodeAddress}/${NET.vethPrefix}`, "dev", "eth0"]);
    onNode("ip", ["link", "set", "eth0", "up"]);
    onNode("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    // The node has no default route (nothing may leave), so its own processes — hostNetwork pods, like
    // discovery — need a route for Service addresses; kube-proxy's DNAT then sends them to an endpoint.
    onNode("ip", ["route", "add", NET.serviceCidr, "dev", "eth0"]);
    run("ip", "route", "add", NET.serviceCidr, "via", NET.nodeAddress, "dev", record.hostVeth);
    run("ip", "route", "add", NET.podCidr, "via", NET.nodeAddress, "dev", record.hostVeth);
    files = writeClusterFiles(dir, { cniBinDir: assets.CNI_BIN_DIR, pauseRef: assets.PAUSE_REF });
    const f = files;
    mark("network and PKI");

    launch("containerd", assets.CONTAINERD, ["--config", f.containerdConfig]);
    launch("etcd", assets.ETCD, [
      ...["--data-dir", join(dir, "etcd"), "--unsafe-no-fsync"],
      ...[
        "--listen-client-urls",
        "http://127.0.0.1:2379",
        "--advertise-client-urls",
        "http://127.0.0.1:2379",
      ],
      ...[
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
      ],
      ...["--initial-cluster", "default=http://127.0.0.1:2380"],
    ]);
    launch("kube-apiserver", assets.KUBE_APISERVER, [
      ...["--etcd-servers", "http://127.0.0.1:2379"],
      ...["--bind-address", "0.0.0.0", "--secure-port", String(NET.apiPort)],
      ...["--advertise-address", NET.nodeAddress],
      ...["--tls-cert-file", f.apiCert, "--tls-private-key-file", f.apiKey, "--client-ca-file", f.caCert],
      ...["--token-auth-file", f.tokensCsv],
      ...["--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction"],
      ...["--service-account-issuer", "https://kubernetes.default.svc.cluster.local"],
      ...["--service-account-key-file", f.saKey, "--service-account-signing-key-file", f.saKey],
      ...["--service-cluster-ip-range", NET.serviceCidr],
      ...["--allow-privileged=true", "--kubelet-preferred-address-types", "InternalIP", "--profiling=false"],
    ]);
    const socket = f.containerdSocket;
    await untilUp(
      "containerd",
      () => existsSync(socket) && spawnSync(assets.CTR, ["--address", socket, "version"]).status === 0,
      30_000,
    );
    ctr("images", "import", "--all-platforms", assets.PAUSE_ARCHIVE);
    ctr("images", "import", "--all-platforms", assets.IMAGE_ARCHIVE);
    mark("containerd up, images imported");

    const server = `https://${NET.nodeAddress}:${NET.apiPort}`;
    const admin = { server, token: f.adminToken };
    await untilUp(
      "kube-apiserver /readyz",
      async () => (await apiRequest(admin, "GET", "/readyz")).status === 200,
      90_000,
    );
    mark("kube-apiserver ready");

    launch("kube-controller-manager", assets.KUBE_CONTROLLER_MANAGER, [
      ...["--kubeconfig", f.kubeconfigs.controllerManager],
      ...["--authentication-kubeconfig", f.kubeconfigs.controllerManager],
      ...["--authorization-kubeconfig", f.kubeconfigs.controllerManager],
      ...["--use-service-account-credentials=true", "--service-account-private-key-file", f.saKey],
      ...["--root-ca-file", f.caCert, "--leader-elect=false", "--bind-address", "127.0.0.1"],
      ...["--allocate-node-cidrs=false", "--cluster-name", "metalpool-test"],
    ]);
    launch("kube-scheduler", assets.KUBE_SCHEDULER, [
      ...["--kubeconfig", f.kubeconfigs.scheduler],
      ...["--authentication-kubeconfig", f.kubeconfigs.scheduler],
      ...["--authorization-kubeconfig", f.kubeconfigs.scheduler],
      ...["--leader-elect=false", "--bind-address", "127.0.0.1"],
    ]);
    launch("kubelet", assets.KUBELET, [
      ...["--config", f.kubeletConfig, "--kubeconfig", f.kubeconfigs.kubelet],
      ...["--root-dir", f.kubeletRoot, "--cert-dir", join(f.kubeletRoot, "pki")],
      ...["--node-ip", NET.nodeAddress, "--hostname-override", NODE_NAME],
    ]);
    launch("kube-proxy", assets.KUBE_PROXY, ["--config", f.kubeProxyConfig]);

    // Upstream CRDs the operator needs (Tinkerbell, machine-controller); ours comes with the chart.
    const ours = join(REPO_DIR, "crds");
    await installCrds(
      admin,
      crdFiles().filter((file) => !file.startsWith(ours)),
    );

    await untilUp(
      `node ${NODE_NAME} Ready`,
      async () => {
        const res = await apiRequest(admin, "GET", `/api/v1/nodes/${NODE_NAME}`);
        const conditions = (res.json as { status?: { conditions?: { type: string; status: string }[] } })
          .status?.conditions;
        return (conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
      },
      90_000,
    );
    mark("node Ready");
    // Pods need their namespace's ServiceAccount and the cluster CA ConfigMap, both made by controllers.
    await untilUp(
      "default ServiceAccount and kube-root-ca.crt",
      async () =>
        (await apiRequest(admin, "GET", "/api/v1/namespaces/default/serviceaccounts/default")).status ===
          200 &&
        (await apiRequest(admin, "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt")).status ===
          200,
      60_000,
    );
    mark("ready for workloads");

    const kc = new KubeConfig();
    kc.loadFromFile(f.kubeconfigs.admin);
    return {
      dir,
      assets,
      server,
      kubeconfigPath: f.kubeconfigs.admin,
      kc,
      token: f.adminToken,
      netns: record.netns,
      timings,
      onNode,
      helm: async (...args) => {
        // Asynchronous, so a test can watch the cluster while helm waits on a rollout.
        const { stdout } = await execFileAsync(assets.HELM, ["--kubeconfig", f.kubeconfigs.admin, ...args], {
          encoding: "utf8",
          env: {
            ...process.env,
            HELM_CACHE_HOME: join(dir, "helm/cache"),
            HELM_CONFIG_HOME: join(dir, "helm/config"),
            HELM_DATA_HOME: join(dir, "helm/data"),
          },
        });
        return stdout;
      },
      importImage: (archive, ...extraRefs) => {
        const out = ctr("images", "import", "--all-platforms", archive);
        const ref = /unpacking (\S+)/.exec(out)?.[1];
        for (const extra of extraRefs) if (ref) ctr("images", "tag", "--force", ref, extra);
      },
      tagImage: (ref, newRef) => {
        ctr("images", "tag", "--force", ref, newRef);
      },
      containerPid: (containerID) => {
        const id = containerID.replace(/^containerd:\/\//, "");
        const row = ctr("tasks", "ls")
          .split("\n")
          .map((line) => line.trim().split(/\s+/))
          .find(([task]) => task === id);
        if (!row?.[1]) throw new Error(`no running task for container ${id}`);
        return Number(row[1]);
      },
      containerLogs: (namespace, pod, container) => {
        const podDir = readdirSync(f.podLogsDir).find((d) => d.startsWith(`${namespace}_${pod}_`));
        if (!podDir) return "";
        const containerDir = join(f.podLogsDir, podDir, container);
        if (!existsSync(containerDir)) return "";
        return readdirSync(containerDir)
          .sort((a, b) => parseInt(a) - parseInt(b))
          .map((file) => readFileSync(join(containerDir, file), "utf8"))
          .join("");
      },
      stop: stopAll,
    };
  } catch (err) {
    const report = [...processes.keys()]
      .map((name) => `--- ${name}\n${tail(join(logs, `${name}.log`))}`)
      .join("\n");
    if (process.env.METALPOOL_KEEP_TEST_LOGS) {
      const keep = mkdtempSync(join(tmpdir(), "metalpool-cluster-logs-"));
      for (const file of readdirSync(logs)) writeFileSync(join(keep, file), readFileSync(join(logs, file)));
    }
    await stopAll().catch(() => undefined);
    throw new Error(`cluster failed to start: ${String(err)}\n${report}`, { cause: err });
  }
}

/** Deletes every pod at once (grace 0): the kubelet kills its containers and tears down their networks. */
async function deleteAllPods(admin: { server: string; token: string }): Promise<void> {
  const list = await apiRequest(admin, "GET", "/api/v1/pods");
  const pods = (list.json as { items?: { metadata: { namespace: string; name: string } }[] }).items ?? [];
  await Promise.all(
    pods.map((p) =>
      apiRequest(admin, "DELETE", `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, {
        gracePeriodSeconds: 0,
      }),
    ),
  );
}
