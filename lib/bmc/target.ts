/**
 * Where a Hardware's BMC is and how to log in: from the Tinkerbell bmc.tinkerbell.org Machine its
 * spec.bmcRef names (connection host/port, credential Secret with username/password, insecureTLS, the
 * Redfish systemName), or from annotations on the Hardware for sites without rufio. Credentials are read
 * from the Secret at call time and go nowhere but the Authorization of requests to that BMC.
 */
import { ANNOTATION } from "../api/labels.ts";
import { BMC_MACHINE, type Hardware } from "../api/tinkerbell.ts";
import { KubeClient, isNotFound, type KubeObject, type ResourceType } from "../kube/rest.ts";
import type { RedfishEndpoint } from "../redfish/client.ts";

const SECRET: ResourceType = {
  group: "",
  version: "v1",
  plural: "secrets",
  kind: "Secret",
  namespaced: true,
};

interface BmcMachine extends KubeObject {
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

export async function resolveBmc(
  client: KubeClient,
  hw: Hardware,
  opts: { ca?: string } = {},
): Promise<BmcTarget> {
  const ns = hw.metadata.namespace ?? "default";
  const annotations = hw.metadata.annotations ?? {};
  if (hw.spec.bmcRef?.name) {
    const owner = `Hardware ${ns}/${hw.metadata.name}`;
    const machine = await client.getOrNull<BmcMachine>(BMC_MACHINE, ns, hw.spec.bmcRef.name);
    if (!machine)
      throw new BmcConfigError(`${owner}: bmc Machine ${ns}/${hw.spec.bmcRef.name} (spec.bmcRef) not found`);
    const c = machine.spec.connection;
    const redfish = c.providerOptions?.redfish;
    const port = redfish?.port ?? (c.port && c.port !== 623 ? c.port : undefined); // 623 is IPMI's default
    const ref = c.authSecretRef;
    if (!ref?.name)
      throw new BmcConfigError(
        `${owner}: bmc Machine ${hw.spec.bmcRef.name} has no connection.authSecretRef`,
      );
    const creds = await credentials(client, ref.namespace ?? ns, ref.name, owner);
    const url = redfishUrl(c.host, port);
    return {
      endpoint: {
        url,
        ...creds,
        ...(c.insecureTLS ? { insecure: true } : {}),
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(redfish?.useBasicAuth ? { auth: "basic" as const } : {}),
      },
      ...(redfish?.systemName ? { systemId: redfish.systemName } : {}),
      describe: `BMC ${new URL(url).host} of Hardware ${hw.metadata.name}`,
    };
  }
  const endpoint = annotations[ANNOTATION.bmcEndpoint];
  if (endpoint) {
    const secretName = annotations[ANNOTATION.bmcSecret];
    if (!secretName)
      throw new BmcConfigError(
        `Hardware ${ns}/${hw.metadata.name}: annotation ${ANNOTATION.bmcSecret} is missing`,
      );
    const creds = await credentials(client, ns, secretName, `Hardware ${ns}/${hw.metadata.name}`);
    const url = redfishUrl(endpoint, undefined);
    return {
      endpoint: { url, ...creds, ...(opts.ca ? { ca: opts.ca } : {}) },
      ...(annotations[ANNOTATION.bmcSystem] ? { systemId: annotations[ANNOTATION.bmcSystem] } : {}),
      describe: `BMC ${new URL(url).host} of Hardware ${hw.metadata.name}`,
    };
  }
  throw new BmcConfigError(
    `Hardware ${ns}/${hw.metadata.name} has no BMC: set spec.bmcRef or the ${ANNOTATION.bmcEndpoint} annotation`,
  );
}
