/** Reading what runs in the test cluster (cluster.ts): the chart's pods, their metrics, the leader Lease. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { REPO_DIR } from "./control-plane.ts";
import type { Cluster } from "./cluster.ts";
import { waitFor } from "./ports.ts";

export const CHART = join(REPO_DIR, "charts/metalpool");

/** `helm install --wait` of the chart from this tree; `args` are more helm flags (--set, -f). */
export async function helmInstall(
  cluster: Cluster,
  release: string,
  namespace: string,
  args: string[] = [],
): Promise<string> {
  try {
    return await cluster.helm(
      ...["install", release, CHART, "--namespace", namespace, "--create-namespace"],
      ...args,
      ...["--wait", "--timeout", "3m"],
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await podReport(cluster, namespace)}`, { cause: err });
  }
}

/** Every pod's state, its containers' last log lines and the namespace's events: why a rollout is stuck. */
export async function podReport(cluster: Cluster, namespace: string): Promise<string> {
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const pods = (await core.listNamespacedPod({ namespace })).items;
  const events = (await core.listNamespacedEvent({ namespace })).items;
  return [
    ...pods.map((p) =>
      [
        `pod ${p.metadata?.name}: ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.map((c) => c.state))}`,
        ...(p.spec?.containers ?? []).map((c) =>
          cluster
            .containerLogs(namespace, p.metadata?.name ?? "", c.name)
            .split("\n")
            .slice(-15)
            .join("\n"),
        ),
      ].join("\n"),
    ),
    ...events.map((e) => `event ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.reason} ${e.message}`),
  ].join("\n");
}

export function clients(cluster: Cluster): {
  core: CoreV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
} {
  return {
    core: cluster.kc.makeApiClient(CoreV1Api),
    apps: cluster.kc.makeApiClient(AppsV1Api),
    coordination: cluster.kc.makeApiClient(CoordinationV1Api),
  };
}

export async function componentPods(
  core: CoreV1Api,
  namespace: string,
  release: string,
  component: "operator" | "discovery",
): Promise<V1Pod[]> {
  const list = await core.listNamespacedPod({
    namespace,
    labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}`,
  });
  return list.items;
}

export const isReady = (pod: V1Pod): boolean =>
  !pod.metadata?.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** Fetches a metrics page and returns the value of one unlabelled sample (NaN if absent). */
export async function metricValue(url: string, name: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  const text = await res.text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : Number.NaN;
}

export async function leaseHolder(
  coordination: CoordinationV1Api,
  namespace: string,
  name = "metalpool-operator",
): Promise<string> {
  const lease = await coordination.readNamespacedLease({ name, namespace });
  return lease.spec?.holderIdentity ?? "";
}

/** Waits until the Deployment has rolled out: every replica updated, available, and no old pod left. */
export async function rolledOut(
  apps: AppsV1Api,
  namespace: string,
  name: string,
  timeoutMs = 120_000,
): Promise<void> {
  await waitFor(
    `Deployment ${name} rolled out`,
    async () => {
      const d = await apps.readNamespacedDeployment({ name, namespace });
      const want = d.spec?.replicas ?? 1;
      const s = d.status;
      return (
        (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        s?.updatedReplicas === want &&
        s?.availableReplicas === want &&
        (s?.replicas ?? 0) === want
      );
    },
    timeoutMs,
    250,
  );
}

/** /proc/<pid>/status as fields (Uid, CapEff, CapBnd, NoNewPrivs, …). */
export function processStatus(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .filter((line) => line.includes(":"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
  );
}
