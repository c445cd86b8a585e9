/**
 * Configuration files for the single-node test cluster (cluster.ts): addresses, PKI, kubeconfigs, and the
 * containerd, CNI, kubelet and kube-proxy configuration. Pure text; nothing here starts anything.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The node lives in a network namespace of its own, joined to the root namespace by a veth pair; every
 * address below exists only there (or on the root side of that pair), so no traffic leaves this machine.
 */
export const NET = {
  hostAddress: "10.215.0.1",
  nodeAddress: "10.215.0.2",
  vethPrefix: 30,
  podCidr: "10.216.0.0/24",
  podGateway: "10.216.0.1",
  serviceCidr: "10.217.0.0/24",
  /** The first address of the service range: the `kubernetes` Service. */
  apiServiceAddress: "10.217.0.1",
  apiPort: 6443,
} as const;

export const NODE_NAME = "metalpool-node";

export interface ClusterFiles {
  dir: string;
  caCert: string;
  saKey: string;
  apiCert: string;
  apiKey: string;
  tokensCsv: string;
  /** kubeconfig per identity: admin, kubelet, controller-manager, scheduler, kube-proxy. */
  kubeconfigs: Record<Identity, string>;
  containerdConfig: string;
  containerdSocket: string;
  cniConfDir: string;
  kubeletConfig: string;
  kubeletRoot: string;
  podLogsDir: string;
  kubeProxyConfig: string;
  adminToken: string;
}

type Identity = "admin" | "kubelet" | "controllerManager" | "scheduler" | "kubeProxy";

/** Token-file users: the names and groups Node authorization, NodeRestriction and the default RBAC expect. */
const USERS: Record<Identity, { user: string; groups: string }> = {
  admin: { user: "admin", groups: "system:masters" },
  kubelet: { user: `system:node:${NODE_NAME}`, groups: "system:nodes" },
  controllerManager: { user: "system:kube-controller-manager", groups: "" },
  scheduler: { user: "system:kube-scheduler", groups: "" },
  kubeProxy: { user: "system:kube-proxy", groups: "" },
};

const openssl = (...args: string[]): void => {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
};

/** A CA, the API server's serving certificate (every name pods and tests use), and the ServiceAccount key. */
function writePki(pki: string): Pick<ClusterFiles, "caCert" | "saKey" | "apiCert" | "apiKey"> {
  mkdirSync(pki, { recursive: true });
  const f = (name: string): string => join(pki, name);
  openssl("genrsa", "-out", f("ca.key"), "2048");
  openssl(
    "req",
    ...[
      "-x509",
      "-new",
      "-key",
      f("ca.key"),
      "-subj",
      "/CN=metalpool-test-ca",
      "-days",
      "2",
      "-out",
      f("ca.crt"),
    ],
  );
  openssl("genrsa", "-out", f("apiserver.key"), "2048");
  openssl(
    "req",
    "-new",
    "-key",
    f("apiserver.key"),
    "-subj",
    "/CN=kube-apiserver",
    "-out",
    f("apiserver.csr"),
  );
  const sans = [
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "DNS:localhost",
    `IP:${NET.nodeAddress}`,
    `IP:${NET.apiServiceAddress}`,
    "IP:127.0.0.1",
  ].join(",");
  writeFileSync(f("apiserver.ext"), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    "x509",
    ...["-req", "-in", f("apiserver.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial"],
    ...["-days", "2", "-extfile", f("apiserver.ext"), "-out", f("apiserver.crt")],
  );
  openssl("genrsa", "-out", f("sa.key"), "2048");
  return { caCert: f("ca.crt"), saKey: f("sa.key"), apiCert: f("apiserver.crt"), apiKey: f("apiserver.key") };
}

function kubeconfig(server: string, caCert: string, token: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "certificate-authority": caCert } }],
    users: [{ name: "user", user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "user", namespace: "default" } }],
    "current-context": "test",
  });
}

function containerdToml(
  dir: string,
  socket: string,
  cniBinDir: string,
  cniConfDir: string,
  pause: string,
): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(dir, "containerd/root")}"
state = "${join(dir, "containerd/state")}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, "containerd/opt")}"
[${cri}]
  sandbox_image = "${pause}"
  # CAP_SYS_RESOURCE is not in this machine's bounding set: nobody may lower oom_score_adj, which CRI asks for
  # the pause container (-998) unless told to keep within what the runtime itself may do.
  restrict_oom_score_adj = true
  # Lets a non-root container bind low ports inside its own network namespace; hostNetwork pods (discovery)
  # get nothing from this and need their file capability.
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  # Pod network namespaces under our state directory, so teardown finds every one of them.
  netns_mounts_under_state_dir = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        # runc's state in our directory too: teardown lists and force-deletes what a graceful stop left.
        Root = "${join(dir, "runc")}"
  [${cri}.cni]
    bin_dir = "${cniBinDir}"
    conf_dir = "${cniConfDir}"
`;
}

function cniConflist(ipamDir: string): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name: "metalpool-test",
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: ipamDir,
          ranges: [[{ subnet: NET.podCidr, gateway: NET.podGateway }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "loopback" },
    ],
  });
}

function kubeletYaml(files: { caCert: string; socket: string; podLogsDir: string }): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: NET.nodeAddress,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: files.caCert },
    },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: `unix://${files.socket}`,
    // cgroups v1 (hybrid) here, managed by the kubelet itself rather than systemd.
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    podLogsDir: files.podLogsDir,
    // Test images are imported, never pulled: nothing may garbage-collect them, and a full-ish disk must
    // not evict the pods under test.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    hairpinMode: "hairpin-veth",
    // Quick pod status and probe reporting for tests.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
    fileCheckFrequency: "5s",
    serializeImagePulls: false,
    maxPods: 40,
  });
}

function kubeProxyYaml(kubeconfigPath: string): string {
  return JSON.stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clusterCIDR: NET.podCidr,
    bindAddress: NET.nodeAddress,
    hostnameOverride: NODE_NAME,
    metricsBindAddress: "127.0.0.1:10249",
    healthzBindAddress: "127.0.0.1:10256",
    clientConnection: { kubeconfig: kubeconfigPath },
    // No conntrack sysctl writes: the table size is the host's business.
    conntrack: { maxPerCore: 0, min: 0 },
  });
}

export function writeClusterFiles(dir: string, opts: { cniBinDir: string; pauseRef: string }): ClusterFiles {
  const pki = writePki(join(dir, "pki"));
  const tokens = Object.fromEntries(
    (Object.keys(USERS) as Identity[]).map((id) => [id, randomBytes(24).toString("hex")]),
  ) as Record<Identity, string>;
  const tokensCsv = join(dir, "tokens.csv");
  writeFileSync(
    tokensCsv,
    (Object.keys(USERS) as Identity[])
      .map((id) => {
        const { user, groups } = USERS[id];
        return `${tokens[id]},${user},${user}${groups ? `,"${groups}"` : ""}`;
      })
      .join("\n") + "\n",
  );
  const server = `https://${NET.nodeAddress}:${NET.apiPort}`;
  const kubeconfigs = {} as Record<Identity, string>;
  for (const id of Object.keys(USERS) as Identity[]) {
    kubeconfigs[id] = join(dir, `${id}.kubeconfig`);
    writeFileSync(kubeconfigs[id], kubeconfig(server, pki.caCert, tokens[id]));
  }
  const containerdSocket = join(dir, "containerd/containerd.sock");
  const cniConfDir = join(dir, "cni/net.d");
  mkdirSync(cniConfDir, { recursive: true });
  writeFileSync(join(cniConfDir, "10-metalpool-test.conflist"), cniConflist(join(dir, "cni/ipam")));
  const containerdConfig = join(dir, "containerd.toml");
  writeFileSync(
    containerdConfig,
    containerdToml(dir, containerdSocket, opts.cniBinDir, cniConfDir, opts.pauseRef),
  );
  const podLogsDir = join(dir, "pod-logs");
  const kubeletConfig = join(dir, "kubelet.json");
  writeFileSync(kubeletConfig, kubeletYaml({ caCert: pki.caCert, socket: containerdSocket, podLogsDir }));
  const kubeProxyConfig = join(dir, "kube-proxy.json");
  writeFileSync(kubeProxyConfig, kubeProxyYaml(kubeconfigs.kubeProxy));
  return {
    dir,
    ...pki,
    tokensCsv,
    kubeconfigs,
    containerdConfig,
    containerdSocket,
    cniConfDir,
    kubeletConfig,
    kubeletRoot: join(dir, "kubelet"),
    podLogsDir,
    kubeProxyConfig,
    adminToken: tokens.admin,
  };
}
