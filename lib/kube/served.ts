/**
 * Which resource types the API server serves, from its discovery documents (GET /apis/<group>/<version>).
 * Used at start so a missing optional CRD (rufio's bmc Jobs, machine-controller's MachineDeployments)
 * disables only what needs it instead of an informer that retries forever.
 */
import { isNotFound, KubeClient, type ResourceType } from "./rest.ts";

interface ApiResourceList {
  resources?: { name: string }[];
}

export const typeName = (t: ResourceType): string => `${t.plural}.${t.group || "core"}/${t.version}`;

/** The subset of `types` the API server serves right now; other errors (unreachable, forbidden) throw. */
export async function servedTypes(
  client: KubeClient,
  types: readonly ResourceType[],
): Promise<Set<ResourceType>> {
  const byGroupVersion = new Map<string, ResourceType[]>();
  for (const t of types) {
    const gv = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    byGroupVersion.set(gv, [...(byGroupVersion.get(gv) ?? []), t]);
  }
  const served = new Set<ResourceType>();
  for (const [path, wanted] of byGroupVersion) {
    let list: ApiResourceList;
    try {
      list = await client.request<ApiResourceList>("GET", path);
    } catch (err) {
      if (isNotFound(err)) continue; // the whole group/version is not installed
      throw err;
    }
    const names = new Set((list.resources ?? []).map((r) => r.name));
    for (const t of wanted) if (names.has(t.plural)) served.add(t);
  }
  return served;
}
