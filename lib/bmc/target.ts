/**
 * Where a Hardware's BMC is and how to log in: from the Tinkerbell bmc.tinkerbell.org Machine its
 * spec.bmcRef names (connection host/port, credential Secret with username/password, insecureTLS, the
 * Redfish systemName), or from annotations on the Hardware for sites without rufio. Credentials are read
 * from the Secret at call time and go nowhere but the Authorization of requests to that BMC.
 */
import { SECRET } from "../api/core.ts";
import { ANNOTATION } from "../api/labels.ts";
import { BMC_MACHINE, type Hardware } from "../api/tinkerbell.ts";
import { KubeClient, isNotFound, type KubeObject } from "../kube/rest.ts";
import {
  STRICT_SECRET_POLICY,
  insecureEndpointRefusal,
  secretNamespaceRefusal,
  type SecretPolicy,
} from "../kube/secret-policy.ts";
import type { RedfishEndpoint } from "../redfish/client.ts";

export interface BmcMachine extends KubeObject {
  spec: {
    connection: {
      host: string;
      port?: number;
      insecureTLS?: boolean;
      authSecretRef?: { name?: string; namespace?: string };
      providerOptions?: { redfish?: { port?: number; systemName?: string; useBasicAuth?: boolean } };
    };
  };
}

export interface BmcTarget {
  endpoint: RedfishEndpoint;
  systemId?: string;
  /** What to call it in messages: never containing credentials. */
  describe: string;
}

export class BmcConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BmcConfigError";
  }
}

function redfishUrl(host: string, port: number | undefined): string {
  const url = new URL(/^https?:\/\//.test(host) ? host : `https://${host}`);
  if (port) url.port = String(port);
  return url.origin;
}

async function credentials(
  client: KubeClient,
  namespace: string,
  name: string,
  owner: string,
): Promise<{ username: string; password: string }> {
  let secret: KubeObject & { data?: Record<string, string> };
  try {
    secret = await client.get(SECRET, namespace, name);
  } catch (err) {
    if (isNotFound(err))
      throw new BmcConfigError(`${owner}: credential Secret ${namespace}/${name} not found`);
    throw err;
  }
  const read = (key: string): string => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
  const username = read("username");
  const password = read("password");
  if (!username || !password)
    throw new BmcConfigError(`${owner}: Secret ${namespace}/${name} needs keys "username" and "password"`);
  return { username, password };
}

function describeBmc(url: string, hw: Hardware): string {
  return `BMC ${new URL(url).host} of Hardware ${hw.metadata.name}`;
}

/** The Redfish port: providerOptions.redfish.port, else connection.port unless it is IPMI's 623. */
function redfishPort(c: BmcMachine["spec"]["connection"]): number | undefined {
  const port = c.providerOptions?.redfish?.port ?? c.port;
  return port && port !== 623 ? port : undefined;
}

/** From the bmc.tinkerbell.org Machine named by spec.bmcRef, as rufio reads it. */
async function fromMachine(
  client: KubeClient,
  hw: Hardware,
  machineName: string,
  opts: ResolveOptions,
): Promise<BmcTarget> {
  const ns = hw.metadata.namespace ?? "default";
  const owner = `Hardware ${ns}/${hw.metadata.name}`;
  const machine = await client.getOrNull<BmcMachine>(BMC_MACHINE, ns, machineName);
  if (!machine)
    throw new BmcConfigError(`${owner}: bmc Machine ${ns}/${machineName} (spec.bmcRef) not found`);
  const target = await machineTarget(client, machine, owner, opts);
  return { ...target, describe: describeBmc(target.endpoint.url, hw) };
}

/**
 * The BMC a bmc.tinkerbell.org Machine describes, for callers that start from the Machine rather than from
 * a Hardware (vouching for a discovered server). Same rules as through spec.bmcRef.
 */
export async function resolveMachineBmc(
  client: KubeClient,
  machine: BmcMachine,
  opts: ResolveOptions = {},
): Promise<BmcTarget> {
  const owner = `bmc Machine ${machine.metadata.namespace ?? "default"}/${machine.metadata.name}`;
  const target = await machineTarget(client, machine, owner, opts);
  return { ...target, describe: `BMC ${new URL(target.endpoint.url).host} of ${owner}` };
}

/** Endpoint, system and credentials of a bmc Machine; `owner` is who is named in refusals. */
async function machineTarget(
  client: KubeClient,
  machine: BmcMachine,
  owner: string,
  opts: ResolveOptions,
): Promise<Omit<BmcTarget, "describe">> {
  const ns = machine.metadata.namespace ?? "default";
  const machineName = machine.metadata.name ?? "";
  const c = machine.spec.connection;
  const ref = c.authSecretRef;
  if (!ref?.name)
    throw new BmcConfigError(`${owner}: bmc Machine ${machineName} has no connection.authSecretRef`);
  const policy = opts.policy ?? STRICT_SECRET_POLICY;
  const url = redfishUrl(c.host, redfishPort(c));
  const refused =
    secretNamespaceRefusal(policy, `bmc Machine ${ns}/${machineName}`, ns, ref.namespace ?? ns) ??
    insecureEndpointRefusal(policy, owner, url);
  if (refused) throw new BmcConfigError(refused);
  const creds = await credentials(client, ref.namespace ?? ns, ref.name, owner);
  const system = c.providerOptions?.redfish?.systemName;
  return { endpoint: machineEndpoint(c, url, creds, opts.ca), ...(system ? { systemId: system } : {}) };
}

function machineEndpoint(
  c: BmcMachine["spec"]["connection"],
  url: string,
  creds: { username: string; password: string },
  ca: string | undefined,
): RedfishEndpoint {
  return {
    url,
    ...creds,
    ...(c.insecureTLS ? { insecure: true } : {}),
    ...(ca ? { ca } : {}),
    ...(c.providerOptions?.redfish?.useBasicAuth ? { auth: "basic" as const } : {}),
  };
}

/** From the metalpool.io/bmc-* annotations, for sites without rufio. The Secret is in the Hardware's namespace. */
async function fromAnnotations(
  client: KubeClient,
  hw: Hardware,
  endpoint: string,
  opts: ResolveOptions,
): Promise<BmcTarget> {
  const ns = hw.metadata.namespace ?? "default";
  const owner = `Hardware ${ns}/${hw.metadata.name}`;
  const annotations = hw.metadata.annotations ?? {};
  const secretName = annotations[ANNOTATION.bmcSecret];
  if (!secretName) throw new BmcConfigError(`${owner}: annotation ${ANNOTATION.bmcSecret} is missing`);
  const url = redfishUrl(endpoint, undefined);
  const refused = insecureEndpointRefusal(opts.policy ?? STRICT_SECRET_POLICY, owner, url);
  if (refused) throw new BmcConfigError(refused);
  const creds = await credentials(client, ns, secretName, owner);
  const ca = opts.ca;
  const system = annotations[ANNOTATION.bmcSystem];
  return {
    endpoint: { url, ...creds, ...(ca ? { ca } : {}) },
    ...(system ? { systemId: system } : {}),
    describe: describeBmc(url, hw),
  };
}

/**
 * The BMC of a Hardware: spec.bmcRef wins over the annotations. Throws BmcConfigError, naming what is
 * missing, when neither leads to an endpoint and credentials.
 */
export interface ResolveOptions {
  ca?: string;
  /** Which Secrets may be read and where credentials may go; strict by default. */
  policy?: SecretPolicy;
}

export async function resolveBmc(
  client: KubeClient,
  hw: Hardware,
  opts: ResolveOptions = {},
): Promise<BmcTarget> {
  if (hw.spec.bmcRef?.name) return fromMachine(client, hw, hw.spec.bmcRef.name, opts);
  const endpoint = hw.metadata.annotations?.[ANNOTATION.bmcEndpoint];
  if (endpoint) return fromAnnotations(client, hw, endpoint, opts);
  throw new BmcConfigError(
    `Hardware ${hw.metadata.namespace ?? "default"}/${hw.metadata.name} has no BMC: set spec.bmcRef or the ${ANNOTATION.bmcEndpoint} annotation`,
  );
}
