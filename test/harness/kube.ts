/** Clients and namespaces for integration tests, against the control plane that global-setup started. */
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { inject } from "vitest";

export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfigPath"));
  return kc;
}

export function kubeconfigPath(): string {
  return inject("kubeconfigPath");
}

export interface TestClients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
}

export function testClients(kc: KubeConfig = testKubeConfig()): TestClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

/**
 * A fresh namespace named after the test. There is no kube-controller-manager in the test control plane,
 * so namespaces are never finalized; unique names keep files and reruns apart.
 */
export async function createNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`.toLowerCase().slice(0, 63);
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}
