import type { ResourceType } from "../../lib/kube/rest.ts";

export const POOL: ResourceType = {
  group: "metalpool.io",
  version: "v1alpha1",
  plural: "baremetalpools",
  kind: "BaremetalPool",
  namespaced: true,
};
