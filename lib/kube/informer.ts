/**
 * A restartable informer: list, then watch from the list's resourceVersion, keeping a cache and telling
 * handlers about adds, updates and deletes. Unlike client-node's informer it never stops for good: any
 * watch error re-watches from the last seen resourceVersion after a backoff, 410 Gone re-lists (and emits
 * the difference), watches end server-side after a jittered timeout, and a periodic resync re-delivers
 * every cached object so missed work is retried.
 */
import {
  KubeApiError,
  KubeClient,
  apiVersionOf,
  resourcePath,
  type KubeObject,
  type ObjectList,
  type ResourceType,
} from "./rest.ts";
import type { KubeConfig } from "./kubeconfig.ts";

export type InformerEvent = "add" | "update" | "delete";
export type Handler<T> = (obj: T, old?: T) => void;

export interface InformerOptions<T extends KubeObject = KubeObject> {
  namespace?: string;
  labelSelector?: string;
  /** Re-deliver every cached object as an update this often (0: never). */
  resyncMs?: number;
  watchTimeoutSeconds?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  onError?: (err: unknown) => void;
  /**
   * What of each object to keep (after managedFields are dropped): a program that reads a few fields of
   * many objects keeps only those. Applied to everything cached, listed, watched or written locally; the
   * handlers see what it returns.
   */
  transform?: (obj: T) => T;
}

const key = (obj: KubeObject): string => `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;

/** 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
}

const MAX_TOMBSTONES = 4096;

/**
 * What the cache keeps of an object: all but metadata.managedFields, which nothing here reads and which
 * is often bigger than the rest (one entry per writer and subresource). An update sent from a cached copy
 * leaves the server's managedFields as they are (omitted is not emptied).
 */
function cacheable<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  /**
   * Keys deleted lately, with the resourceVersion of the deletion: a local write that returns after the
   * watch has delivered the delete must not bring the object back (a claim would then 404 forever).
   */
  private readonly tombstones = new Map<string, number>();
  private readonly handlers: Record<InformerEvent, Handler<T>[]> = { add: [], update: [], delete: [] };
  private readonly client: KubeClient;
  private resourceVersion = "";
  private synced = false;
  private relisting = false;
  private stopped = true;
  private abort: AbortController | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  readonly type: ResourceType;
  readonly opts: InformerOptions<T>;

  constructor(kc: KubeConfig, type: ResourceType, opts: InformerOptions<T> = {}) {
    this.type = type;
    this.opts = opts;
    this.client = new KubeClient(kc);
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  on(event: InformerEvent, handler: Handler<T>): this {
    this.handlers[event].push(handler);
    return this;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  /**
   * Puts an object we just wrote into the cache if it is newer than what we have, so a controller does not
   * act on its own stale view before the watch event arrives. Emits nothing.
   */
  upsertLocal(written: T): void {
    // The writer keeps using its object; the cache takes a copy of the top level without managedFields.
    const obj = this.keep({ ...written, metadata: { ...written.metadata } });
    const k = key(obj);
    const old = this.cache.get(k);
    if (old && Number(old.metadata.resourceVersion) >= Number(obj.metadata.resourceVersion)) return;
    if ((this.tombstones.get(k) ?? -1) >= Number(obj.metadata.resourceVersion)) return;
    this.cache.set(k, obj);
  }

  private bury(k: string, resourceVersion: string | undefined): void {
    this.tombstones.delete(k);
    this.tombstones.set(k, Number(resourceVersion) || 0);
    // Bounded: the oldest go first; a write older than thousands of deletions is long since answered.
    if (this.tombstones.size > MAX_TOMBSTONES)
      this.tombstones.delete(this.tombstones.keys().next().value as string);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list; keeps watching in the background until stop(). */
  async start(): Promise<void> {
    this.stopped = false;
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.relist();
        break;
      } catch (err) {
        this.opts.onError?.(err);
        await this.sleep(backoffMs(++failures));
      }
    }
    if (this.stopped) return;
    void this.watchLoop();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj, old);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private resync(): void {
    for (const obj of this.cache.values()) this.emit("update", obj, obj);
  }

  /** Lists everything and reconciles the cache with it, emitting what changed since the last view. */
  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.type, this.opts.namespace, {
      labelSelector: this.opts.labelSelector,
    });
    const seen = new Set<string>();
    // After the first list, what a relist emits skips whatever happened since the last event seen (a gap).
    this.relisting = this.synced;
    try {
      this.reconcileWith(list, seen);
    } finally {
      this.relisting = false;
    }
    this.resourceVersion = list.metadata.resourceVersion ?? "";
    this.synced = true;
  }

  /**
   * True while the events being emitted come from a relist after a gap (a 410, a broken watch): each object
   * then shows only its latest state, not the changes in between. Handlers that judge transitions (an audit,
   * a test's checker) must not read two states across a gap as one step.
   */
  isRelisting(): boolean {
    return this.relisting;
  }

  private reconcileWith(list: ObjectList<T>, seen: Set<string>): void {
    for (const obj of list.items.map((o) => this.keep(o))) {
      const k = key(obj);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, obj);
      if (!old) this.emit("add", obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit("update", obj, old);
    }
    for (const [k, old] of this.cache) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.bury(k, list.metadata.resourceVersion);
        this.emit("delete", old);
      }
    }
  }

  private async watchLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const outcome = await this.watchOnce();
      if (this.stopped) return;
      if (outcome === "gone") {
        try {
          await this.relist();
          failures = 0;
        } catch (err) {
          this.opts.onError?.(err);
          await this.sleep(backoffMs(++failures));
        }
      } else if (outcome === "error") {
        await this.sleep(backoffMs(++failures));
      } else {
        failures = 0;
      }
    }
  }

  /** One watch request; resolves when it ends, saying whether to re-list. */
  private async watchOnce(): Promise<"ended" | "gone" | "error"> {
    let gone = false;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
    const controller = new AbortController();
    this.abort = controller;
    if (this.stopped) return "ended";
    try {
      await this.client.watch(
        resourcePath(this.type, this.opts.namespace),
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: this.opts.labelSelector,
        },
        (type, obj) => {
          if (type === "ERROR") gone ||= (obj as { code?: number } | null)?.code === 410;
          else if (!gone) this.apply(type, obj as T);
        },
        controller.signal,
      );
      return gone ? "gone" : "ended";
    } catch (err) {
      if (gone || (err instanceof KubeApiError && err.code === 410)) return "gone";
      if (this.stopped) return "ended";
      this.opts.onError?.(err);
      return "error";
    }
  }

  /** What the cache holds of an object. */
  private keep(obj: T): T {
    const kept = cacheable(obj);
    return this.opts.transform ? this.opts.transform(kept) : kept;
  }

  private apply(type: string, watched: T): void {
    if (watched.metadata?.resourceVersion) this.resourceVersion = watched.metadata.resourceVersion;
    if (type === "BOOKMARK") return;
    const obj = this.keep(watched);
    obj.apiVersion ??= apiVersionOf(this.type);
    obj.kind ??= this.type.kind;
    const k = key(obj);
    const old = this.cache.get(k);
    if (type === "DELETED") {
      this.cache.delete(k);
      this.bury(k, obj.metadata.resourceVersion);
      this.emit("delete", old ?? obj);
    } else {
      this.tombstones.delete(k);
      this.cache.set(k, obj);
      if (old) this.emit("update", obj, old);
      else this.emit("add", obj);
    }
  }
}

/** Several per-namespace informers seen as one cache: lists concatenate, events fan in. */
export function mergeInformers<T extends KubeObject>(informers: Informer<T>[]): Informer<T> {
  if (informers.length === 1) return informers[0] as Informer<T>;
  const first = informers[0] as Informer<T>;
  const merged = Object.create(first) as Informer<T>;
  return Object.assign(merged, {
    list: () => informers.flatMap((i) => i.list()),
    get: (ns: string | undefined, name: string) => informers.map((i) => i.get(ns, name)).find(Boolean),
    hasSynced: () => informers.every((i) => i.hasSynced()),
    on: (event: InformerEvent, handler: Handler<T>) => {
      for (const i of informers) i.on(event, handler);
      return merged;
    },
    upsertLocal: (obj: T) =>
      informers
        .find((i) => !i.opts.namespace || i.opts.namespace === obj.metadata.namespace)
        ?.upsertLocal(obj),
  });
}
