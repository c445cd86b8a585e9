/**
 * Kubernetes Events for a regarding object, so `kubectl describe` shows what the controller did.
 * Repeats of the same reason and message are folded into one Event with a count, as kubelet does, from a
 * bounded local memory of what was posted: no read before a write. After a restart (or once an entry has
 * aged out of the memory) the first repeat finds the Event exists and reads it once.
 *
 * Similar Events (same object, type and reason, other message: "claimed Hardware a", "… b") are aggregated
 * as client-go's EventCorrelator does: the first 10 within 10 minutes are written as they come; beyond that
 * they are combined into one Event, "(combined from similar events): <latest message>", whose count grows,
 * written at most every few seconds. A pool scaling by a thousand servers writes tens of Events, not
 * thousands.
 */
import { createHash } from "node:crypto";
import type { KubeConfig } from "./kubeconfig.ts";
import { KubeClient, isAlreadyExists, type KubeObject, type ResourceType } from "./rest.ts";

const EVENT: ResourceType = { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true };

interface CoreEvent extends KubeObject {
  count?: number;
  lastTimestamp?: string;
}

export type EventType = "Normal" | "Warning";

/** Recently written Events remembered for folding (name → count); the oldest are forgotten first. */
const REMEMBERED_EVENTS = 4096;

export interface EventRecorderOptions {
  /** Similar Events written one by one within `aggregateWindowMs` before they are combined. */
  aggregateAfter?: number;
  aggregateWindowMs?: number;
  /** How long combined Events gather before they are written. */
  flushMs?: number;
  now?: () => number;
}

type Regarding = KubeObject & { apiVersion: string; kind: string };

/** What is known of one kind of similar Events: how many were written alone lately, and what waits. */
interface Similar {
  windowStart: number;
  written: number;
  pending?: { regarding: Regarding; type: EventType; reason: string; message: string; count: number };
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly counts = new Map<string, number>();
  private readonly similar = new Map<string, Similar>();
  private readonly aggregateAfter: number;
  private readonly aggregateWindowMs: number;
  private readonly flushMs: number;
  private readonly now: () => number;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig, component: string, opts: EventRecorderOptions = {}) {
    this.client = new KubeClient(kc);
    this.component = component;
    this.aggregateAfter = opts.aggregateAfter ?? 10;
    this.aggregateWindowMs = opts.aggregateWindowMs ?? 10 * 60_000;
    this.flushMs = opts.flushMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Best effort: an Event that cannot be written is never a reason to fail a reconcile. One beyond the
   * similar-Event allowance is combined and written by the next flush; this then resolves at once.
   */
  record(regarding: Regarding, type: EventType, reason: string, message: string): Promise<void> {
    const name = eventName(regarding, `${type}|${reason}|${message}`);
    const namespace = regarding.metadata.namespace ?? "default";
    if (this.counts.has(key(namespace, name))) return this.write(regarding, name, type, reason, message, 1);
    const k = `${regarding.metadata.uid}|${type}|${reason}`;
    const now = this.now();
    const s = this.similar.get(k) ?? { windowStart: now, written: 0 };
    if (now - s.windowStart > this.aggregateWindowMs) {
      s.windowStart = now; // a new window; anything combined still waits for its flush
      s.written = 0;
    }
    this.similar.delete(k); // re-insert: Map order is the recency order
    this.similar.set(k, s);
    if (this.similar.size > REMEMBERED_EVENTS)
      this.similar.delete(this.similar.keys().next().value as string);
    if (s.written < this.aggregateAfter) {
      s.written += 1;
      return this.write(regarding, name, type, reason, message, 1);
    }
    s.pending = { regarding, type, reason, message, count: (s.pending?.count ?? 0) + 1 };
    this.flushTimer ??= setTimeout(() => void this.flush(), this.flushMs);
    this.flushTimer.unref();
    return Promise.resolve();
  }

  /** Writes every combined Event waiting now (the timer calls it; call it before shutting down). */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const writes: Promise<void>[] = [];
    for (const s of this.similar.values()) {
      const p = s.pending;
      if (!p) continue;
      s.pending = undefined;
      const name = eventName(p.regarding, `${p.type}|${p.reason}|combined`);
      const message = `(combined from similar events): ${p.message}`;
      writes.push(this.write(p.regarding, name, p.type, p.reason, message, p.count));
    }
    await Promise.all(writes);
  }

  /** Creates the Event, or adds `count` to it when this recorder (or, after a 409, the server) knows it. */
  private async write(
    regarding: Regarding,
    name: string,
    type: EventType,
    reason: string,
    message: string,
    count: number,
  ): Promise<void> {
    const namespace = regarding.metadata.namespace ?? "default";
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    try {
      const known = this.counts.get(key(namespace, name));
      if (known !== undefined) {
        await this.bump(namespace, name, known + count, now, message);
        return;
      }
      await this.client.create(EVENT, {
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata.name,
          namespace,
          uid: regarding.metadata.uid,
          resourceVersion: regarding.metadata.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.component,
        firstTimestamp: now,
        lastTimestamp: now,
        count,
      } as KubeObject);
      this.remember(namespace, name, count);
    } catch (err) {
      if (isAlreadyExists(err)) await this.foldIntoExisting(namespace, name, now, count, message);
      // Otherwise best effort by design (see above): a lost Event is no reason to retry the reconcile.
    }
  }

  private async bump(
    namespace: string,
    name: string,
    count: number,
    now: string,
    message: string,
  ): Promise<void> {
    try {
      await this.client.patch(
        EVENT,
        namespace,
        name,
        { count, lastTimestamp: now, message: message.slice(0, 1024) },
        "merge",
      );
      this.remember(namespace, name, count);
    } catch {
      this.counts.delete(key(namespace, name)); // gone or unreadable: the next repeat starts afresh
    }
  }

  /** The Event exists but this recorder does not remember it (a restart): read its count once. */
  private async foldIntoExisting(
    namespace: string,
    name: string,
    now: string,
    count: number,
    message: string,
  ): Promise<void> {
    try {
      const existing = await this.client.get<CoreEvent>(EVENT, namespace, name);
      await this.bump(namespace, name, (existing.count ?? 1) + count, now, message);
    } catch {
      // best effort
    }
  }

  private remember(namespace: string, name: string, count: number): void {
    const k = key(namespace, name);
    this.counts.delete(k); // re-insert: Map order is the recency order
    this.counts.set(k, count);
    if (this.counts.size > REMEMBERED_EVENTS) this.counts.delete(this.counts.keys().next().value as string);
  }
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

/** A stable name per regarding object and what the Event says, so repeats find their Event. */
function eventName(regarding: KubeObject, what: string): string {
  const digest = createHash("sha256").update(`${regarding.metadata.uid}|${what}`).digest("hex").slice(0, 12);
  return `${regarding.metadata.name}.${digest}`;
}
