/**
 * Starts one real control plane for the integration project and installs every CRD. Each test file
 * works in namespaces of its own (see kube.ts), so files do not see each other's objects.
 */
import type { TestProject } from "vitest/node";
import { crdFiles, installCrds, startControlPlane } from "./control-plane.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
    apiServer: string;
    apiToken: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cp = await startControlPlane();
  try {
    await installCrds(cp, crdFiles());
  } catch (err) {
    await cp.stop();
    throw err;
  }
  project.provide("kubeconfigPath", cp.kubeconfigPath);
  project.provide("apiServer", cp.server);
  project.provide("apiToken", cp.token);
  return () => cp.stop();
}
