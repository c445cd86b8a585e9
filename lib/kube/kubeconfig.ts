/**
 * The programs' own kubeconfig: where the API server is, how to trust it, and who we are to it.
 *
 * Why not @kubernetes/client-node's KubeConfig: importing it loads every generated API and model of the
 * library (its config module imports the generated index), 86 MB of resident memory before a single object
 * is cached, which alone is almost half of the operator's 200 MiB budget; and each time it is asked for
 * credentials it builds a new HTTP agent and may read certificate files. metalpool makes every request
 * through its own path-based client (rest.ts) and needs only this part of the kubeconfig, so it reads it
 * here. The tests still use client-node's typed APIs; the lib accepts either (KubeConfig below).
 *
 * What is read, as client-go reads it: an explicit file; in a Pod the service account (token re-read, since
 * the kubelet rotates it); else $KUBECONFIG (a list of files merged, the first to set a name wins) or
 * ~/.kube/config. Clusters: server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name.
 * Users: token, tokenFile, client-certificate(-data)/client-key(-data), username/password, and exec plugins
 * (client.authentication.k8s.io v1/v1beta1, the credential reused until its expiry). What is not supported
 * (auth-provider, proxy-url) is refused at load with a message that says so, not ignored.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import type { KubeConfig as ClientNodeKubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

/** What the lib's clients accept: metalpool's own kubeconfig, or client-node's (tests build those). */
export type KubeConfig = ClusterConfig | ClientNodeKubeConfig;

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** client-go re-reads a token file at most once a minute. */
const TOKEN_FILE_TTL_MS = 60_000;
/** An exec credential without an expiry is asked for again after this long (a rotated one is then used). */
const EXEC_DEFAULT_TTL_MS = 5 * 60_000;

/** TLS to present and to trust, fixed for a kubeconfig (an exec plugin's client certificate aside). */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  servername?: string;
}

/** What a request needs right now: headers, and TLS when an exec plugin supplied a client certificate. */
export interface Credentials {
  headers: Record<string, string>;
  clientCertificate?: { cert: string; key: string };
}

interface RawNamed<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}
interface RawCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}
interface RawExec {
  command?: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
}
interface RawUser {
  token?: string;
  tokenFile?: string;
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  username?: string;
  password?: string;
  exec?: RawExec;
  "auth-provider"?: { name?: string };
}
interface RawContext {
  cluster?: string;
  user?: string;
}
interface RawKubeConfig {
  "current-context"?: string;
  clusters?: RawNamed<RawCluster>[];
  users?: RawNamed<RawUser>[];
  contexts?: RawNamed<RawContext>[];
}

/** A raw document with the directory its relative paths are relative to. */
interface Source {
  doc: RawKubeConfig;
  dir: string;
  origin: string;
}

export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeConfigError";
  }
}

type Auth =
  | { kind: "none" }
  | { kind: "static"; headers: Record<string, string> }
  | { kind: "tokenFile"; path: string }
  | { kind: "exec"; exec: Required<Pick<RawExec, "command">> & RawExec };

/** One cluster and one user: what `getCurrentCluster()` and `credentials()` answer from. */
export class ClusterConfig {
  readonly server: string;
  readonly tls: TlsOptions;
  readonly contextName: string;
  private readonly auth: Auth;
  private cached: { until: number; credentials: Credentials } | undefined;
  private refreshing: Promise<Credentials> | undefined;
  private readonly now: () => number;

  constructor(
    init: { server: string; tls: TlsOptions; contextName: string; auth: Auth },
    now: () => number = Date.now,
  ) {
    this.server = init.server;
    this.tls = init.tls;
    this.contextName = init.contextName;
    this.auth = init.auth;
    this.now = now;
  }

  /** client-node's shape, so code written for either kubeconfig asks the same way. */
  getCurrentCluster(): { name: string; server: string; skipTLSVerify: boolean } {
    return { name: this.contextName, server: this.server, skipTLSVerify: !this.tls.rejectUnauthorized };
  }

  /** The current credentials; token files and exec plugins are asked again only when due. */
  async credentials(): Promise<Credentials> {
    const auth = this.auth;
    if (auth.kind === "none") return { headers: {} };
    if (auth.kind === "static") return { headers: auth.headers };
    const now = this.now();
    if (this.cached && now < this.cached.until) return this.cached.credentials;
    if (!this.refreshing) {
      // One refresh at a time; callers meanwhile share it. (Cleared in a callback, never synchronously, so a
      // refresh that completes at once cannot leave a settled promise behind as the current one.)
      const refresh = (async (): Promise<Credentials> => {
        const fresh = auth.kind === "tokenFile" ? readTokenFile(auth.path, now) : await runExec(auth, now);
        this.cached = fresh;
        return fresh.credentials;
      })();
      this.refreshing = refresh;
      refresh.then(
        () => (this.refreshing = undefined),
        () => (this.refreshing = undefined),
      );
    }
    return this.refreshing;
  }
}

function readTokenFile(path: string, now: number): { until: number; credentials: Credentials } {
  let token: string;
  try {
    token = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new KubeConfigError(`cannot read the token file ${path}: ${(err as Error).message}`);
  }
  return { until: now + TOKEN_FILE_TTL_MS, credentials: { headers: { authorization: `Bearer ${token}` } } };
}

const execFileAsync = promisify(execFile);

interface ExecCredential {
  status?: {
    token?: string;
    clientCertificateData?: string;
    clientKeyData?: string;
    expirationTimestamp?: string;
  };
}

async function runExec(
  auth: Extract<Auth, { kind: "exec" }>,
  now: number,
): Promise<{ until: number; credentials: Credentials }> {
  const apiVersion = auth.exec.apiVersion ?? "client.authentication.k8s.io/v1";
  const info = { apiVersion, kind: "ExecCredential", spec: { interactive: false } };
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(auth.exec.command, auth.exec.args ?? [], {
      env: {
        ...process.env,
        ...Object.fromEntries((auth.exec.env ?? []).map((e) => [e.name, e.value])),
        KUBERNETES_EXEC_INFO: JSON.stringify(info),
      },
      timeout: 60_000,
      maxBuffer: 1 << 20,
    }));
  } catch (err) {
    throw new KubeConfigError(
      `the exec credential plugin ${auth.exec.command} failed: ${(err as Error).message}`,
    );
  }
  let status: ExecCredential["status"];
  try {
    status = (JSON.parse(stdout) as ExecCredential).status;
  } catch {
    throw new KubeConfigError(
      `the exec credential plugin ${auth.exec.command} printed no ExecCredential JSON`,
    );
  }
  if (!status?.token && !(status?.clientCertificateData && status.clientKeyData))
    throw new KubeConfigError(
      `the exec credential plugin ${auth.exec.command} returned neither a token nor a client certificate`,
    );
  const expiry = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : NaN;
  return {
    until: Number.isFinite(expiry) ? expiry : now + EXEC_DEFAULT_TTL_MS,
    credentials: {
      headers: status.token ? { authorization: `Bearer ${status.token}` } : {},
      ...(status.clientCertificateData && status.clientKeyData
        ? { clientCertificate: { cert: status.clientCertificateData, key: status.clientKeyData } }
        : {}),
    },
  };
}

function named<T>(
  items: RawNamed<T>[] | undefined,
  field: "cluster" | "user" | "context",
  name: string,
  origin: string,
): T {
  const found = (items ?? []).find((i) => i.name === name)?.[field];
  if (!found) throw new KubeConfigError(`${origin}: no ${field} named "${name}"`);
  return found;
}

function fileOrData(
  source: Source,
  what: string,
  file: string | undefined,
  data: string | undefined,
): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (!file) return undefined;
  const path = isAbsolute(file) ? file : join(source.dir, file);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new KubeConfigError(`${source.origin}: cannot read the ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Merges documents as client-go does: the first to set current-context, and the first of each name, win. */
function merge(sources: Source[]): { doc: RawKubeConfig; sourceOf: Map<string, Source> } {
  const doc: RawKubeConfig = { clusters: [], users: [], contexts: [] };
  const sourceOf = new Map<string, Source>();
  for (const s of sources) {
    doc["current-context"] ??= s.doc["current-context"];
    for (const field of ["clusters", "users", "contexts"] as const) {
      for (const item of s.doc[field] ?? []) {
        const list = doc[field] as RawNamed<unknown>[];
        if (!item.name || list.some((i) => i.name === item.name)) continue;
        list.push(item);
        sourceOf.set(`${field}/${item.name}`, s);
      }
    }
  }
  return { doc, sourceOf };
}

/** The user's credentials; a client certificate goes into `tls` (the connection's identity). */
function userAuth(
  doc: RawKubeConfig,
  sourceOf: Map<string, Source>,
  name: string,
  origin: string,
  tls: TlsOptions,
): Auth {
  const user = named(doc.users, "user", name, origin);
  const userSource = sourceOf.get(`users/${name}`) as Source;
  if (user["auth-provider"])
    throw new KubeConfigError(
      `${origin}: user "${name}" uses the auth-provider "${user["auth-provider"].name ?? ""}", which Kubernetes removed; use an exec plugin`,
    );
  const cert = fileOrData(
    userSource,
    "client certificate",
    user["client-certificate"],
    user["client-certificate-data"],
  );
  const key = fileOrData(userSource, "client key", user["client-key"], user["client-key-data"]);
  if (cert && key) Object.assign(tls, { cert, key });
  else if (cert || key)
    throw new KubeConfigError(
      `${origin}: user "${name}" has a client certificate without its key, or a key without its certificate`,
    );
  if (user.token) return { kind: "static", headers: { authorization: `Bearer ${user.token}` } };
  if (user.tokenFile)
    return {
      kind: "tokenFile",
      path: isAbsolute(user.tokenFile) ? user.tokenFile : join(userSource.dir, user.tokenFile),
    };
  if (user.exec?.command) return { kind: "exec", exec: { ...user.exec, command: user.exec.command } };
  if (user.username !== undefined && user.password !== undefined)
    return {
      kind: "static",
      headers: {
        authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`,
      },
    };
  return { kind: "none" };
}

function fromSources(sources: Source[]): ClusterConfig {
  const origin = sources.map((s) => s.origin).join(", ");
  const { doc, sourceOf } = merge(sources);
  const contextName = doc["current-context"];
  if (!contextName) throw new KubeConfigError(`${origin}: no current-context`);
  const context = named(doc.contexts, "context", contextName, origin);
  if (!context.cluster) throw new KubeConfigError(`${origin}: context "${contextName}" names no cluster`);
  const cluster = named(doc.clusters, "cluster", context.cluster, origin);
  const clusterSource = sourceOf.get(`clusters/${context.cluster}`) as Source;
  if (!cluster.server) throw new KubeConfigError(`${origin}: cluster "${context.cluster}" has no server`);
  if (cluster["proxy-url"])
    throw new KubeConfigError(
      `${origin}: cluster "${context.cluster}" sets proxy-url, which metalpool does not support`,
    );
  const ca = fileOrData(
    clusterSource,
    "certificate authority",
    cluster["certificate-authority"],
    cluster["certificate-authority-data"],
  );
  const tls: TlsOptions = {
    rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
    ...(ca ? { ca } : {}),
    ...(cluster["tls-server-name"] ? { servername: cluster["tls-server-name"] } : {}),
  };
  const auth = context.user
    ? userAuth(doc, sourceOf, context.user, origin, tls)
    : ({ kind: "none" } as const);
  return new ClusterConfig({ server: cluster.server, tls, contextName, auth });
}

function parseDocument(text: string, origin: string): RawKubeConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    // The parser's message quotes the text around the error; a kubeconfig holds credentials, so only the
    // position is kept.
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw new KubeConfigError(
      `${origin}: not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ""}`,
    );
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new KubeConfigError(`${origin}: not a kubeconfig`);
  return doc;
}

function fileSource(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new KubeConfigError(`cannot read the kubeconfig ${path}: ${(err as Error).message}`);
  }
  return { doc: parseDocument(text, path), dir: dirname(path), origin: path };
}

/** A kubeconfig given as YAML text, e.g. from a Secret; relative file paths in it are not allowed to resolve. */
export function clusterConfigFromString(text: string, origin = "the kubeconfig"): ClusterConfig {
  return fromSources([{ doc: parseDocument(text, origin), dir: "/nonexistent", origin }]);
}

export function clusterConfigFromFile(path: string): ClusterConfig {
  return fromSources([fileSource(path)]);
}

/** The Pod's service account, as client-go's InClusterConfig reads it. */
export function inClusterConfig(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): ClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let ca: string;
  try {
    ca = readFileSync(join(dir, "ca.crt"), "utf8");
  } catch (err) {
    throw new KubeConfigError(`cannot read the service account's CA: ${(err as Error).message}`);
  }
  return new ClusterConfig({
    server,
    tls: { ca, rejectUnauthorized: true },
    contextName: "in-cluster",
    auth: { kind: "tokenFile", path: join(dir, "token") },
  });
}

/** $KUBECONFIG's files (those that exist, merged) or ~/.kube/config. */
export function defaultClusterConfig(env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  const listed = (env.KUBECONFIG ?? "").split(":").filter(Boolean);
  const paths = listed.length ? listed : [join(env.HOME ?? homedir(), ".kube", "config")];
  const sources: Source[] = [];
  for (const p of paths) {
    try {
      sources.push(fileSource(p));
    } catch (err) {
      // client-go skips listed files that do not exist; one that exists but cannot be read is an error.
      if ((err as Error).message.includes("ENOENT")) continue;
      throw err;
    }
  }
  if (!sources.length) throw new KubeConfigError(`no kubeconfig found (looked at ${paths.join(", ")})`);
  return fromSources(sources);
}
