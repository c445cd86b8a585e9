import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * Where the programs find their cluster: an explicit --kubeconfig, else the in-cluster service account,
 * else $KUBECONFIG, else ~/.kube/config. (client-node's loadFromDefault prefers $KUBECONFIG over
 * in-cluster, which would let a stray variable in a Pod point the operator at another cluster.)
 */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) {
    kc.loadFromFile(kubeconfigPath);
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, run in a Pod, or set KUBECONFIG");
  }
  return kc;
}

/** A kubeconfig given as YAML text, e.g. from a Secret that points at another cluster. */
export function kubeConfigFromString(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  if (!kc.getCurrentCluster()) throw new Error("the kubeconfig names no current cluster");
  return kc;
}
