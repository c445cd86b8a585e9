/**
 * Tinkerbell Templates metalpool generates when it owns provisioning: one that installs the OS, and
 * wipe templates for releasing a server. Actions are the upstream Tinkerbell action images (Hub); the
 * Hardware's own facts (disk, MAC, addresses) are filled in by Tinkerbell's template rendering.
 */
import { stringify } from "yaml";
import type { BaremetalPoolSpec } from "../../lib/api/baremetalpool.ts";
import type { Template } from "../../lib/api/tinkerbell.ts";

const ACTIONS = "quay.io/tinkerbell/actions";
const WORKER = "{{.device_1}}";
const DISK = "{{ index .Hardware.Disks 0 }}";

export type WipeMode = "Metadata" | "Full";

function templateObject(
  name: string,
  namespace: string,
  actions: Record<string, unknown>[],
  timeout: number,
): Template {
  const data = stringify({
    version: "0.1",
    name,
    global_timeout: timeout,
    tasks: [{ name: "main", worker: WORKER, volumes: ["/dev:/dev", "/dev/console:/dev/console"], actions }],
  });
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Template",
    metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "metalpool" } },
    spec: { data },
  };
}

export function provisionTemplateName(poolName: string): string {
  return `metalpool-${poolName}-provision`.slice(0, 253);
}

/** Wipe, stream the OS image to the boot disk, write network config and cloud-init, reboot. */
export function buildProvisionTemplate(
  poolName: string,
  namespace: string,
  spec: BaremetalPoolSpec,
  timeoutSeconds: number,
): Template {
  const actions = [
    {
      name: "wipe-disk",
      image: `${ACTIONS}/wipe:latest`,
      timeout: 600,
      environment: { DEST_DISK: DISK, MODE: "metadata" },
    },
    {
      name: "stream-image",
      image: `${ACTIONS}/image2disk:latest`,
      timeout: Math.max(600, timeoutSeconds - 900),
      environment: { DEST_DISK: DISK, IMG_URL: spec.template.osImageURL, COMPRESSED: "true" },
    },
    {
      name: "write-netplan",
      image: `${ACTIONS}/writefile:latest`,
      timeout: 90,
      environment: {
        DEST_DISK: `${DISK}1`,
        FS_TYPE: "ext4",
        DEST_PATH: "/etc/netplan/config.yaml",
        DIRMODE: "0755",
        MODE: "0644",
        UID: "0",
        GID: "0",
        CONTENTS:
          "network:\n  version: 2\n  ethernets:\n    id0:\n      match: {macaddress: {{ (index .Hardware.Interfaces 0).DHCP.MAC }}}\n      addresses: [{{ (index .Hardware.Interfaces 0).DHCP.IP.Address }}/{{ (index .Hardware.Interfaces 0).DHCP.IP.Netmask }}]\n      routes: [{to: default, via: {{ (index .Hardware.Interfaces 0).DHCP.IP.Gateway }}}]\n",
      },
    },
    {
      name: "write-cloud-init",
      image: `${ACTIONS}/writefile:latest`,
      timeout: 90,
      environment: {
        DEST_DISK: `${DISK}1`,
        FS_TYPE: "ext4",
        DEST_PATH: "/etc/cloud/cloud.cfg.d/10_metalpool.cfg",
        DIRMODE: "0755",
        MODE: "0644",
        UID: "0",
        GID: "0",
        CONTENTS:
          "datasource:\n  Ec2:\n    metadata_urls: ['http://{{ .Hardware.Metadata.Facility.FacilityCode }}']\n    strict_id: false\ndatasource_list: [NoCloud, Ec2, None]\n",
      },
    },
    {
      name: "reboot",
      image: `${ACTIONS}/reboot:latest`,
      timeout: 90,
      pid: "host",
      volumes: ["/worker:/worker"],
    },
  ];
  return templateObject(provisionTemplateName(poolName), namespace, actions, timeoutSeconds);
}

export function wipeTemplateName(mode: WipeMode): string {
  return `metalpool-wipe-${mode.toLowerCase()}`;
}

/** Metadata: partition tables and filesystem signatures on every disk. Full: every block. */
export function buildWipeTemplate(namespace: string, mode: WipeMode, timeoutSeconds: number): Template {
  const actions = [
    {
      name: `wipe-${mode.toLowerCase()}`,
      image: `${ACTIONS}/wipe:latest`,
      timeout: timeoutSeconds,
      environment: { DEST_DISK: "all", MODE: mode === "Full" ? "full" : "metadata" },
    },
    {
      name: "power-off",
      image: `${ACTIONS}/reboot:latest`,
      timeout: 90,
      pid: "host",
      environment: { ACTION: "poweroff" },
    },
  ];
  return templateObject(wipeTemplateName(mode), namespace, actions, timeoutSeconds);
}
