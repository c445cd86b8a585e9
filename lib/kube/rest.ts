/**
 * A small typed REST client over a KubeConfig. The generated client-node APIs cover built-in kinds well,
 * but for custom resources, server-side apply, merge patches and status subresources one path-based
 * client is clearer and makes every request's content type explicit (client-node's generic patch defaults
 * to strategic merge, which CRDs reject).
 */
import { STATUS_CODES } from "node:http";
import { request as send } from "undici";
import { connectionFor } from "./connection.ts";
import type { KubeConfig } from "./kubeconfig.ts";
import { TokenBucket } from "./rate-limit.ts";
import { RequestScope } from "./request-scope.ts";

/** Request limits by kubeconfig: every client of one kubeconfig shares its limit, as they share connections. */
const limits = new WeakMap<KubeConfig, TokenBucket>();

/**
 * Limits the requests every client of `kc` sends (watches excepted: they are long-lived), to `qps` a second
 * after a burst of `burst`; returns the bucket (for its metrics). A kubeconfig without a limit is unlimited.
 */
export function limitRequests(kc: KubeConfig, limit: { qps: number; burst: number }): TokenBucket {
  const bucket = new TokenBucket(limit);
  limits.set(kc, bucket);
  return bucket;
}

export interface ResourceType {
  group: string; // "" for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    /** Server-side apply bookkeeping: often larger than the object itself; caches drop it. */
    managedFields?: unknown[];
  };
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** A failed API call, with the HTTP code and the API server's reason (Conflict, AlreadyExists, …). */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
  }
}

/** The API server's refusal as an error: its Status reason and message when the body is one. */
function apiError(
  method: string,
  path: string,
  code: number,
  statusText: string,
  text: string,
): KubeApiError {
  let reason = statusText;
  let message = text;
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    reason = status.reason ?? reason;
    message = status.message ?? message;
  } catch {
    // not a Status object; keep the raw text
  }
  return new KubeApiError(code, reason, `${method} ${path}: ${code} ${message}`);
}

/** The non-empty lines of a byte stream (a watch sends one JSON event per line). */
async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const part of parts) if (part.trim()) yield part;
  }
  if (pending.trim()) yield pending;
}

export const isAborted = (err: unknown): boolean => err instanceof KubeApiError && err.reason === "Aborted";

/** Why a request failed on the way: the connection's own error where undici wraps one. */
const failure = (err: unknown): string =>
  err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);

const abortReason = (s: AbortSignal): string =>
  s.reason instanceof Error ? s.reason.message : typeof s.reason === "string" ? s.reason : "aborted";

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.code === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.code === 409 && err.reason === "AlreadyExists";

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function resourcePath(
  type: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const tail = name ? `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}` : "";
  return `${base}${ns}/${type.plural}${tail}`;
}

export type PatchType = "merge" | "json" | "apply";
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  contentType?: string;
  timeoutMs?: number;
  /** Ends the request early (leadership lost, shutting down). */
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Every request also ends when this signal aborts: a replica that lost its lease stops writing at once. */
  signal?: AbortSignal;
}

export class KubeClient {
  readonly kc: KubeConfig;
  private readonly signal: AbortSignal | undefined;
  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    this.kc = kc;
    this.signal = opts.signal;
  }

  /** The API server of the current context and the URL of `path` on it, with the query set. */
  private endpoint(path: string, query: RequestOptions["query"] = {}): { server: string; url: URL } {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("no current cluster in kubeconfig");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return { server: cluster.server, url };
  }

  /** The same client whose requests also end when `signal` aborts. */
  withSignal(signal: AbortSignal): KubeClient {
    return new KubeClient(this.kc, { signal: this.signal ? AbortSignal.any([this.signal, signal]) : signal });
  }

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const { server, url } = this.endpoint(path, opts.query);
    const scope = new RequestScope(
      [this.signal, opts.signal].filter((x): x is AbortSignal => x !== undefined),
    );
    const aborted = (): KubeApiError | undefined => {
      const c = scope.cancelledBy();
      return c ? new KubeApiError(0, "Aborted", `${method} ${path}: ${abortReason(c)}`) : undefined;
    };
    try {
      const early = aborted();
      if (early) throw early;
      try {
        await limits.get(this.kc)?.take(scope.signal);
      } catch (err) {
        throw aborted() ?? err;
      }
      const connection = await connectionFor(this.kc, server);
      const headers: Record<string, string> = { ...connection.headers, accept: "application/json" };
      if (body !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
      scope.startTimeout(opts.timeoutMs ?? 30_000);
      let status: number;
      let text: string;
      try {
        // undici's request, not its fetch: the same connection pool at half the client CPU per request
        // (no WHATWG Request, Headers and stream objects), measured 0.27 against 0.53 ms per create.
        const res = await send(url, {
          method: method.toUpperCase(),
          headers,
          dispatcher: connection.dispatcher,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: scope.signal,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        const stopped = aborted();
        if (stopped) throw stopped;
        const why = scope.timedOutAfter ? `timed out after ${scope.timedOutAfter} ms` : failure(err);
        throw new KubeApiError(0, "Unreachable", `${method} ${url.host}${path}: ${why}`);
      }
      if (status >= 300) throw apiError(method, path, status, STATUS_CODES[status] ?? "", text);
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      scope.done();
    }
  }

  /**
   * One watch request: streams the API server's events to `onEvent` until the server ends the watch
   * (its timeoutSeconds), `signal` aborts, or the connection fails; resolves on a normal end. An error
   * status (410 Gone for a compacted resourceVersion, 403, …) rejects as a KubeApiError; ERROR events are
   * passed on. Watches take no part in the request limit (they are long-lived), and a client-side deadline
   * of the server's timeout plus a minute ends one whose connection went silently dead.
   */
  async watch(
    path: string,
    query: NonNullable<RequestOptions["query"]> & { timeoutSeconds: number },
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { server, url } = this.endpoint(path, { ...query, watch: true });
    const scope = new RequestScope([signal, ...(this.signal ? [this.signal] : [])]);
    try {
      const connection = await connectionFor(this.kc, server);
      scope.startTimeout((query.timeoutSeconds + 60) * 1000);
      const res = await send(url, {
        headers: { ...connection.headers, accept: "application/json" },
        dispatcher: connection.dispatcher,
        signal: scope.signal,
      });
      const status = res.statusCode;
      if (status >= 300)
        throw apiError("WATCH", path, status, STATUS_CODES[status] ?? "", await res.body.text());
      for await (const line of lines(res.body)) {
        const event = JSON.parse(line) as { type?: string; object?: unknown };
        if (event.type) onEvent(event.type, event.object);
      }
    } catch (err) {
      // Ended by us (stopping, or the deadline of a dead connection): a normal end.
      if (scope.cancelledBy() || scope.timedOutAfter) return;
      if (err instanceof KubeApiError) throw err;
      throw new KubeApiError(0, "Unreachable", `WATCH ${url.host}${path}: ${failure(err)}`);
    } finally {
      scope.done();
    }
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>("GET", resourcePath(type, namespace, name));
  }

  async getOrNull<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T | null> {
    try {
      return await this.get<T>(type, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    namespace?: string,
    query: RequestOptions["query"] = {},
  ): Promise<ObjectList<T>> {
    const list = await this.request<ObjectList<T>>("GET", resourcePath(type, namespace), undefined, {
      query,
    });
    // Lists omit apiVersion/kind on items; restore them so items look like what a GET returns.
    for (const item of list.items) {
      item.apiVersion = apiVersionOf(type);
      item.kind = type.kind;
    }
    return list;
  }

  create<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    return this.request<T>("POST", resourcePath(type, obj.metadata.namespace), {
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      ...obj,
    });
  }

  /** Replace with resourceVersion guard: a concurrent writer makes this fail with 409 Conflict. */
  update<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    if (!obj.metadata.resourceVersion)
      throw new Error("update needs metadata.resourceVersion (optimistic concurrency)");
    return this.request<T>("PUT", resourcePath(type, obj.metadata.namespace, obj.metadata.name), obj);
  }

  updateStatus<T extends KubeObject>(type: ResourceType, obj: T): Promise<T> {
    return this.request<T>(
      "PUT",
      resourcePath(type, obj.metadata.namespace, obj.metadata.name, "status"),
      obj,
    );
  }

  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    patchType: PatchType,
    opts: { fieldManager?: string; force?: boolean; subresource?: string } = {},
  ): Promise<T> {
    return this.request<T>("PATCH", resourcePath(type, namespace, name, opts.subresource), patch, {
      contentType: PATCH_CONTENT_TYPES[patchType],
      query: { fieldManager: opts.fieldManager, force: opts.force },
    });
  }

  /** Server-side apply with our field manager: we own exactly the fields we send. */
  apply<T extends KubeObject>(
    type: ResourceType,
    obj: T,
    fieldManager: string,
    subresource?: string,
  ): Promise<T> {
    const body = { apiVersion: apiVersionOf(type), kind: type.kind, ...obj };
    return this.patch<T>(type, obj.metadata.namespace, obj.metadata.name as string, body, "apply", {
      fieldManager,
      force: true,
      subresource,
    });
  }

  /** Deletes; a missing object counts as deleted. A uid precondition refuses to delete a re-created namesake. */
  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: { uid?: string; propagation?: "Background" | "Foreground" | "Orphan" } = {},
  ): Promise<void> {
    try {
      await this.request("DELETE", resourcePath(type, namespace, name), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: opts.propagation ?? "Background",
        ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
