/**
 * Tinkerbell Templates metalpool generates when it owns provisioning: one that installs the OS, and wipe
 * templates for releasing a server. tink-controller renders them per Workflow with Go templates
 * (missingkey=error, Sprig plus formatPartition/netmaskToPrefixLength) over the Hardware; every field used
 * here is one v0.25 always provides (`.Hardware.Disks`, `.Hardware.Interfaces`, `.Hardware.UserData`).
 *
 * Images are pinned, never :latest:
 *  - tinkerbell/actions is released per git revision (quay.io/tinkerbell/actions/<action>:<revision>) and
 *    has no release tags; ACTIONS_REVISION is the revision machine-controller v1.61 pins for its own
 *    provisioning Template, whose release pushed every action under that tag.
 *  - tinkerbell/actions has no wipe or reboot action: wiping runs util-linux (wipefs, blkdiscard) from a
 *    pinned Debian image; reboot and power-off go through waitdaemon, as machine-controller's Template
 *    does, so the action reports success before the machine goes down.
 */
import { stringify } from "yaml";
import type { BaremetalPoolSpec } from "../../lib/api/baremetalpool.ts";
import type { Template } from "../../lib/api/tinkerbell.ts";

export const ACTIONS_REVISION = "c5bde803d9f6c90f1a9d5e06930d856d1481854c";
const action = (name: "image2disk" | "writefile" | "cexec"): string =>
  `quay.io/tinkerbell/actions/${name}:${ACTIONS_REVISION}`;
export const IMAGES = {
  image2disk: action("image2disk"),
  writefile: action("writefile"),
  shell: "docker.io/library/debian:12.11-slim",
  waitdaemon: "ghcr.io/jacobweinstock/waitdaemon:0.1.1",
  waitdaemonRuns: "docker.io/library/alpine:3.21",
} as const;

const WORKER = "{{.device_1}}";
const DISK = "{{ index .Hardware.Disks 0 }}";
/** The root filesystem of an Ubuntu cloud image is its first partition (sda1, nvme0n1p1, …-part1). */
const ROOT_PARTITION = "{{ formatPartition (index .Hardware.Disks 0) 1 }}";
const NIC = "(index .Hardware.Interfaces 0).DHCP";
/**
 * Values that must stay one YAML scalar whatever they contain (user data is many lines) are rendered as
 * JSON strings, which YAML reads as double-quoted scalars. stringify would quote a `{{` expression itself,
 * so the expression goes in after stringify, in place of a plain-scalar token.
 */
const USER_DATA_TOKEN = "METALPOOL_USER_DATA_AS_JSON";
const USER_DATA = "{{ .Hardware.UserData | toJson }}";

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
  }).replaceAll(USER_DATA_TOKEN, USER_DATA);
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

const writeFile = (name: string, path: string, contents: string): Record<string, unknown> => ({
  name,
  image: IMAGES.writefile,
  timeout: 90,
  environment: {
    DEST_DISK: ROOT_PARTITION,
    FS_TYPE: "ext4",
    DEST_PATH: path,
    CONTENTS: contents,
    DIRMODE: "0755",
    MODE: "0644",
    UID: "0",
    GID: "0",
  },
});

const waitdaemon = (name: string, command: "reboot" | "poweroff"): Record<string, unknown> => ({
  name,
  image: IMAGES.waitdaemon,
  timeout: 90,
  pid: "host",
  command: [command],
  environment: { IMAGE: IMAGES.waitdaemonRuns, WAIT_SECONDS: "10" },
  volumes: ["/var/run/docker.sock:/var/run/docker.sock"],
});

/** Every disk of the Hardware: Tinkerbell renders the list as `[/dev/sda /dev/sdb]`. */
const DISKS_SHELL = 'disks="{{ .Hardware.Disks }}"; disks="${disks#[}"; disks="${disks%]}"';

const wipeScript = (mode: WipeMode): string =>
  mode === "Full"
    ? `${DISKS_SHELL}; for d in $disks; do blkdiscard --zeroout --force "$d"; done`
    : `${DISKS_SHELL}; for d in $disks; do for p in "$d"?*; do [ -b "$p" ] && wipefs --all --force "$p"; done; wipefs --all --force "$d"; done`;

const wipe = (name: string, mode: WipeMode, timeout: number): Record<string, unknown> => ({
  name,
  image: IMAGES.shell,
  timeout,
  command: ["/bin/sh", "-ec", wipeScript(mode)],
});

/** Wipe, stream the OS image to the boot disk, write network config and cloud-init's seed, reboot. */
export function buildProvisionTemplate(
  poolName: string,
  namespace: string,
  spec: BaremetalPoolSpec,
  timeoutSeconds: number,
): Template {
  const actions = [
    wipe("wipe-disk", "Metadata", 600),
    {
      name: "stream-image",
      image: IMAGES.image2disk,
      timeout: Math.max(600, timeoutSeconds - 900),
      environment: { DEST_DISK: DISK, IMG_URL: spec.template.osImageURL, COMPRESSED: "true" },
    },
    writeFile(
      "write-netplan",
      "/etc/netplan/config.yaml",
      [
        "network:",
        "  version: 2",
        "  ethernets:",
        "    id0:",
        `      match: {macaddress: "{{ ${NIC}.MAC }}"}`,
        `      addresses: ["{{ ${NIC}.IP.Address }}/{{ netmaskToPrefixLength ${NIC}.IP.Netmask }}"]`,
        `      routes: [{to: default, via: "{{ ${NIC}.IP.Gateway }}"}]`,
        `      nameservers: {addresses: [{{ join ", " ${NIC}.NameServers }}]}`,
        "",
      ].join("\n"),
    ),
    writeFile(
      "write-cloud-init-datasource",
      "/etc/cloud/cloud.cfg.d/10_metalpool.cfg",
      "datasource_list: [NoCloud, None]\n",
    ),
    writeFile(
      "write-cloud-init-meta-data",
      "/var/lib/cloud/seed/nocloud/meta-data",
      `instance-id: "{{ ${NIC}.MAC }}"\nlocal-hostname: "{{ ${NIC}.Hostname }}"\n`,
    ),
    writeFile("write-cloud-init-user-data", "/var/lib/cloud/seed/nocloud/user-data", USER_DATA_TOKEN),
    waitdaemon("reboot", "reboot"),
  ];
  return templateObject(provisionTemplateName(poolName), namespace, actions, timeoutSeconds);
}

export function wipeTemplateName(mode: WipeMode): string {
  return `metalpool-wipe-${mode.toLowerCase()}`;
}

/** Metadata: partition tables and filesystem signatures on every disk. Full: every block. */
export function buildWipeTemplate(namespace: string, mode: WipeMode, timeoutSeconds: number): Template {
  const actions = [
    wipe(`wipe-${mode.toLowerCase()}`, mode, timeoutSeconds),
    waitdaemon("power-off", "poweroff"),
  ];
  return templateObject(wipeTemplateName(mode), namespace, actions, timeoutSeconds);
}
