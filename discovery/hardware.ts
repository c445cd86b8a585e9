/** Facts about a PXE client + an address → the Tinkerbell Hardware object discovery creates. Pure. */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import type { Policy } from "./policy.ts";
import type { ClientFacts } from "./pxe.ts";

/** namespace/name: how discovery's caches key a Hardware. */
export function hardwareKey(hw: Hardware): string {
  return `${hw.metadata.namespace ?? ""}/${hw.metadata.name ?? ""}`;
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
