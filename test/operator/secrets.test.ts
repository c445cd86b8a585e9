/**
 * Borrowed Secrets: an ordinary user who may only write pools in their own namespace cannot make the
 * operator read a Secret elsewhere, and a Secret that is not a kubeconfig is never echoed into status.
 */
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../lib/kube/rest.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { World, condition, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
let op: OperatorProcess | undefined;
afterAll(async () => op?.stop());

/** A client authenticated as a ServiceAccount that may only create and read pools in `ns`. */
async function poolWriter(ns: string): Promise<KubeClient> {
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "alice" } } });
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: "pool-writer" },
      rules: [{ apiGroups: ["metalpool.io"], resources: ["baremetalpools"], verbs: ["create", "get"] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: "alice" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pool-writer" },
      subjects: [{ kind: "ServiceAccount", name: "alice", namespace: ns }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({
    name: "alice",
    namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const alice = new KubeConfig();
  alice.loadFromOptions({
    clusters: [{ name: "c", server: kc.getCurrentCluster()?.server ?? "", skipTLSVerify: true }],
    users: [{ name: "alice", token: token.status?.token ?? "" }],
    contexts: [{ name: "c", cluster: "c", user: "alice" }],
    currentContext: "c",
  });
  return new KubeClient(alice);
}

describe("Secret references", () => {
  it("stay in the pool's namespace, and a bad kubeconfig is reported without its content", async () => {
    const ns = await createNamespace(core, "tenant");
    const vault = await createNamespace(core, "vault");
    await core.createNamespacedSecret({
      namespace: vault,
      body: { metadata: { name: "admin-kubeconfig" }, stringData: { kubeconfig: kc.exportConfig() } },
    });
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: "garbage" },
        stringData: { kubeconfig: "password: hunter2\n  {{ not: [yaml" },
      },
    });
    const alice = await poolWriter(ns);
    // Alice cannot read the vault herself…
    await expect(alice.get(POOL, vault, "anything")).rejects.toThrow(/403/);
    op = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity: "a" });
    const template = (secretRef: Record<string, string>) => ({
      osImageURL: "http://images.test/ubuntu.raw.gz",
      kubeletVersion: "1.33.4",
      cluster: { kubeconfigSecretRef: secretRef },
    });
    // …nor make the operator read it for her.
    await alice.create(
      POOL,
      poolObject(ns, "borrow", {
        replicas: 0,
        template: template({ name: "admin-kubeconfig", namespace: vault, key: "kubeconfig" }),
      }),
    );
    await alice.create(
      POOL,
      poolObject(ns, "garbage", { replicas: 0, template: template({ name: "garbage", key: "kubeconfig" }) }),
    );
    const world = new World(kc, ns);
    const borrow = await world.until(
      "borrow",
      "refused",
      (p) => condition(p, "Ready")?.reason === "TargetClusterUnreachable",
    );
    expect(condition(borrow, "Ready")?.message).toBe(
      `target cluster unreachable: pool ${ns}/borrow refers to a Secret in namespace ${vault}; references may only point into ${ns} (the operator's --secret-namespaces lists more)`,
    );
    const garbage = await world.until(
      "garbage",
      "refused",
      (p) => condition(p, "Ready")?.reason === "TargetClusterUnreachable",
    );
    expect(condition(garbage, "Ready")?.message).toBe(
      `target cluster unreachable: kubeconfig Secret ${ns}/garbage key "kubeconfig" is not a valid kubeconfig`,
    );
    expect(JSON.stringify(garbage.status)).not.toContain("hunter2");
  });
});
