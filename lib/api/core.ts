/** The built-in Kubernetes kinds metalpool reads or writes through lib/kube/rest.ts. */
import type { ResourceType } from "../kube/rest.ts";

export const SECRET: ResourceType = {
  group: "",
  version: "v1",
  plural: "secrets",
  kind: "Secret",
  namespaced: true,
};
