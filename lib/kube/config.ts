import { existsSync } from "node:fs";
import {
  clusterConfigFromFile,
  clusterConfigFromString,
  defaultClusterConfig,
  inClusterConfig,
  type ClusterConfig,
} from "./kubeconfig.ts";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * Where the programs find their cluster: an explicit --kubeconfig, else the in-cluster service account,
 * else $KUBECONFIG, else ~/.kube/config. (In-cluster comes before $KUBECONFIG so that a stray variable in a
 * Pod cannot point the operator at another cluster.)
 */
export function loadKubeConfig(kubeconfigPath?: string): ClusterConfig {
  if (kubeconfigPath) return clusterConfigFromFile(kubeconfigPath);
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) return inClusterConfig();
  try {
    return defaultClusterConfig();
  } catch (err) {
    throw new Error(
      `no Kubernetes cluster configured (${(err as Error).message}): pass --kubeconfig, run in a Pod, or set KUBECONFIG`,
      { cause: err },
    );
  }
}

/** A kubeconfig given as YAML text, e.g. from a Secret that points at another cluster. */
export function kubeConfigFromString(yaml: string): ClusterConfig {
  return clusterConfigFromString(yaml);
}
