/**
 * A provisioning site on one machine, for end-to-end tests (shared notes: tinkerbell-stack.md, qemu-pxe.md):
 *
 *   - a routed test network: a namespace with a bridge (the provisioning LAN) and a veth to the root side;
 *   - the real Tinkerbell services (test/harness/tinkerbell.ts) inside it, on the bridge;
 *   - one BMC for all servers: sushy-tools' fake Redfish on the veth's root side, where rufio reaches it.
 *     Its power notifications make power real: On starts the server's QEMU VM (SeaBIOS + iPXE, no disk, so
 *     it PXE-boots from smee), Off kills it;
 *   - with `discovery`, the real metalpool-discovery program beside smee (test/harness/discovery.ts): it
 *     hears every VM's DHCP broadcasts, makes Hardware for unknown ones, and never answers;
 *   - an HTTP server standing where the provisioning OS (HookOS) is downloaded from. A VM asking it for the
 *     kernel has come through DHCP, TFTP and smee's iPXE script: from then on the IN-OS AGENT SIMULATOR
 *     (test/harness/agent-simulator.ts) speaks for that VM to tink-server, until the VM is powered off.
 *
 * Each server's Hardware, bmc Machine and BMC Secret are what a person would write; `objects()` builds them.
 */
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { startDiscoveryOn, type DiscoveryProcess } from "./discovery.ts";
import { AgentSimulator, type ActionScript, type RanAction } from "./agent-simulator.ts";
import { createTestNetwork, type TestNetwork } from "./netns.ts";
import { startVm } from "./qemu.ts";
import { startRedfishEmulator, type RedfishEmulator, type RedfishNotification } from "./redfish.ts";
import { startTinkerbell, type TinkerbellStack } from "./tinkerbell.ts";

export interface LabServer {
  readonly name: string;
  readonly mac: string;
  readonly ip: string;
  readonly uuid: string;
  /** Power as the BMC last reported it, and how often a VM was started for it. */
  power: "On" | "Off";
  boots: number;
  /** Every action the agent simulator reported for this server, across boots. */
  readonly ran: RanAction[];
  /** Requests this server's VM made to the provisioning-OS download URL (the "reached the loader" signal). */
  osieFetches: number;
}

interface ServerState extends LabServer {
  vm?: ReturnType<typeof startVm>;
  tap?: string;
  agent?: AgentSimulator;
  /** Power changes are applied one at a time per server, in the order the BMC sent them. */
  queue: Promise<void>;
}

export interface ProvisioningLab {
  readonly net: TestNetwork;
  readonly tink: TinkerbellStack;
  readonly bmc: RedfishEmulator;
  /** metalpool-discovery beside smee, when asked for. */
  readonly discovery: DiscoveryProcess | undefined;
  readonly servers: readonly LabServer[];
  server(name: string): LabServer;
  /** Hardware, bmc Machine and its Secret for a server, as a person would write them. */
  objects(name: string, namespace: string, labels?: Record<string, string>): LabObjects;
  /** Agent simulators' unexpected errors, and VM harness errors: a test asserts this is empty. */
  readonly errors: string[];
  stop(): Promise<void>;
}

export interface LabObjects {
  secret: { metadata: { name: string; namespace: string }; stringData: Record<string, string> };
  bmcMachine: Record<string, unknown> & { metadata: { name: string; namespace: string } };
  hardware: Record<string, unknown> & {
    metadata: { name: string; namespace: string; labels: Record<string, string> };
  };
}

/**
 * Why end-to-end tests cannot run here, or undefined when they can: root (network namespaces, DHCP on port
 * 67) and QEMU. The firmware runs under TCG: SeaBIOS hangs before its first DHCP under this machine's
 * nested KVM, and TCG boots it in seconds.
 */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces, DHCP on port 67)";
  try {
    execFileSync("qemu-system-x86_64", ["--version"], { stdio: "ignore" });
  } catch {
    return "needs qemu-system-x86_64 (Debian qemu-system-x86, ipxe-qemu) to boot the servers' firmware";
  }
  return undefined;
}

export async function startProvisioningLab(opts: {
  kubeconfigPath: string;
  apiServer: string;
  /** The namespace the test's Tinkerbell objects live in: the only one Tinkerbell watches. */
  namespace: string;
  servers: string[];
  /** What the agent simulator reports for each action (default: every action succeeds). */
  script?: ActionScript;
  /** Runs metalpool-discovery beside smee with this policy (its namespace: the test's). */
  discovery?: Record<string, unknown>;
}): Promise<ProvisioningLab> {
  const net = createTestNetwork({ routed: true });
  const errors: string[] = [];
  const servers: ServerState[] = opts.servers.map((name, i) => {
    const octet = (0x10 + i).toString(16).padStart(2, "0");
    return {
      name,
      mac: `52:54:00:e2:e0:${octet}`,
      ip: `10.213.0.${0x10 + i}`,
      uuid: randomUUID(),
      power: "Off",
      boots: 0,
      ran: [],
      osieFetches: 0,
      queue: Promise.resolve(),
    };
  });
  const cleanups: (() => Promise<void>)[] = [() => net.destroy()];
  const stop = async (): Promise<void> => {
    for (const s of servers) await s.queue;
    for (const s of servers) await powerOff(s);
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => errors.push(String(err)));
  };
  let tink: TinkerbellStack | undefined;

  const powerOff = async (s: ServerState): Promise<void> => {
    const agent = s.agent;
    s.agent = undefined;
    if (agent) {
      await agent.stop();
      errors.push(...agent.errors.map((e) => `${s.name}: ${e}`));
    }
    const vm = s.vm;
    s.vm = undefined;
    if (vm) await vm.stopAndClean();
  };
  const powerOn = (s: ServerState): void => {
    if (s.vm) return;
    s.vm = startVm(net, { firmware: "bios-ipxe", mac: s.mac, smbiosUuid: s.uuid, tap: s.tap });
    s.tap = s.vm.tap;
    s.boots += 1;
  };
  const onNotify = (n: RedfishNotification): void => {
    const s = servers.find((x) => x.uuid === n.uuid);
    if (!s || (n.power_state !== "On" && n.power_state !== "Off")) return;
    const state = n.power_state;
    s.queue = s.queue
      .then(async () => {
        s.power = state;
        if (state === "On") powerOn(s);
        else await powerOff(s);
      })
      .catch((err: unknown) => void errors.push(`${s.name} power ${state}: ${String(err)}`));
  };

  try {
    // Where the provisioning OS would be downloaded from. It serves nothing: the request is the signal.
    const osie: Server = createServer((req, res) => {
      const from = req.socket.remoteAddress?.replace(/^::ffff:/, "");
      const s = servers.find((x) => x.ip === from);
      res.writeHead(404).end();
      if (!s || !s.vm || !tink) return;
      s.osieFetches += 1;
      if (!s.agent) {
        s.agent = new AgentSimulator(tink.grpcAddress, tink.protoDir, s.mac, {
          ran: s.ran,
          ...(opts.script ? { script: opts.script } : {}),
        });
        s.agent.start();
      }
    });
    await new Promise<void>((resolve) => osie.listen(0, net.hostAddress, resolve));
    cleanups.push(() => new Promise<void>((resolve) => osie.close(() => resolve())));
    const osiePort = (osie.address() as { port: number }).port;

    const bmc = await startRedfishEmulator(
      servers.map((s) => ({ uuid: s.uuid, name: s.name, nics: [{ mac: s.mac, ip: s.ip }] })),
      { host: net.hostAddress, onNotify },
    );
    cleanups.push(() => bmc.stop());

    tink = await startTinkerbell(net, {
      kubeconfigPath: opts.kubeconfigPath,
      apiServer: opts.apiServer,
      namespace: opts.namespace,
      osieUrl: `http://${net.hostAddress}:${osiePort}/osie`,
    });
    const started = tink;
    cleanups.push(() => started.stop());

    // After smee, which binds port 67 first; discovery shares it.
    const discovery = opts.discovery
      ? await startDiscoveryOn(net, {
          kubeconfigPath: opts.kubeconfigPath,
          apiServer: opts.apiServer,
          namespace: opts.namespace,
          policy: opts.discovery,
        })
      : undefined;
    if (discovery) cleanups.push(() => discovery.stop());

    const bmcPort = Number(new URL(bmc.url).port);
    return {
      net,
      tink: started,
      bmc,
      discovery,
      servers,
      errors,
      stop,
      server(name: string): LabServer {
        const s = servers.find((x) => x.name === name);
        if (!s) throw new Error(`no lab server ${name}`);
        return s;
      },
      objects(name, namespace, labels = {}): LabObjects {
        const s = servers.find((x) => x.name === name);
        if (!s) throw new Error(`no lab server ${name}`);
        return {
          secret: {
            metadata: { name: `${name}-bmc`, namespace },
            stringData: { username: bmc.username, password: bmc.password },
          },
          bmcMachine: {
            apiVersion: "bmc.tinkerbell.org/v1alpha1",
            kind: "Machine",
            metadata: { name: `${name}-bmc`, namespace },
            spec: {
              connection: {
                host: `http://${net.hostAddress}`,
                insecureTLS: true,
                authSecretRef: { name: `${name}-bmc`, namespace },
                providerOptions: {
                  preferredOrder: ["gofish"],
                  redfish: { port: bmcPort, useBasicAuth: true, systemName: name },
                },
              },
            },
          },
          hardware: {
            apiVersion: "tinkerbell.org/v1alpha1",
            kind: "Hardware",
            metadata: { name, namespace, labels },
            spec: {
              bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: `${name}-bmc` },
              disks: [{ device: "/dev/sda" }],
              interfaces: [
                {
                  dhcp: {
                    mac: s.mac,
                    arch: "x86_64",
                    uefi: false,
                    hostname: name,
                    iface_name: "eth0",
                    ip: { address: s.ip, netmask: "255.255.255.0", gateway: net.bridgeAddress },
                    name_servers: [net.bridgeAddress],
                    lease_time: 3600,
                  },
                  // smee gives no lease at all to an interface without a netboot block.
                  netboot: { allowPXE: false, allowWorkflow: false },
                },
              ],
            },
          },
        };
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
