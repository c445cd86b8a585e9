/** Facts about a PXE client + an address → the Tinkerbell Hardware object discovery creates. Pure. */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import type { Policy } from "./policy.ts";
import type { ClientFacts } from "./pxe.ts";

/** namespace/name: how discovery's caches key a Hardware. */
export function hardwareKey(hw: Hardware): string {
  return `${hw.metadata.namespace ?? ""}/${hw.metadata.name ?? ""}`;
}

/**
 * What discovery keeps of a Hardware: the fields its caches and the last-seen refresh read (identity,
 * labels, annotations, each interface's MAC and address). Discovery watches every Hardware of the cluster
 * and may hold thousands; spec's disks, netboot, user data and the rest are the operator's business.
 */
export function slimHardware(hw: Hardware): Hardware {
  const m = hw.metadata;
  return {
    ...defined({ apiVersion: hw.apiVersion, kind: hw.kind }),
    metadata: defined({
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
      labels: m.labels,
      annotations: m.annotations,
    }),
    spec: {
      interfaces: (hw.spec?.interfaces ?? []).map((i) => {
        const address = i.dhcp?.ip?.address;
        return { dhcp: defined({ mac: i.dhcp?.mac, ip: address === undefined ? undefined : { address } }) };
      }),
    },
  };
}

/** The object without its undefined fields (optional fields are left out, never set to undefined). */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const key in o) if (o[key] !== undefined) out[key] = o[key];
  return out as T;
}

export function hardwareName(mac: string): string {
  return `discovered-${mac.replace(/:/g, "")}`;
}

export function discoveredHardware(
  facts: ClientFacts,
  policy: Policy,
  address: string,
  approved: boolean,
  now: Date,
): Hardware {
  const name = hardwareName(facts.mac);
  const seen = now.toISOString();
  const a = policy.addresses;
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Hardware",
    metadata: {
      name,
      namespace: policy.namespace,
      labels: {
        [LABEL.discovered]: "true",
        [LABEL.arch]: facts.arch,
        [LABEL.uefi]: String(facts.uefi),
        ...(approved ? { [LABEL.approved]: "true" } : { [LABEL.approval]: "pending" }),
      },
      annotations: {
        [ANNOTATION.vendorClass]: facts.vendorClass,
        ...(facts.userClasses.length ? { [ANNOTATION.userClass]: facts.userClasses.join(",") } : {}),
        ...(facts.uuid ? { [ANNOTATION.uuid]: facts.uuid } : {}),
        ...(facts.relay ? { [ANNOTATION.relay]: facts.relay } : {}),
        [ANNOTATION.firstSeen]: seen,
        [ANNOTATION.lastSeen]: seen,
      },
    },
    spec: {
      disks: policy.hardware.disks.map((device) => ({ device })),
      interfaces: [
        {
          dhcp: {
            mac: facts.mac,
            arch: facts.arch,
            uefi: facts.uefi,
            hostname: name,
            iface_name: policy.hardware.ifaceName,
            ip: { address, netmask: a.netmask, ...(a.gateway ? { gateway: a.gateway } : {}), family: 4 },
            ...(a.nameServers.length ? { name_servers: a.nameServers } : {}),
            lease_time: 86400,
          },
          netboot: { allowPXE: policy.hardware.allowPXE, allowWorkflow: policy.hardware.allowWorkflow },
        },
      ],
    },
  };
}
