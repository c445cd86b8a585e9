/**
 * Kubernetes Events for a regarding object, so `kubectl describe` shows what the controller did.
 * Repeats of the same reason and message are folded into one Event with a count, as kubelet does, from a
 * bounded local memory of what was posted: no read before a write. After a restart (or once an entry has
 * aged out of the memory) the first repeat finds the Event exists and reads it once.
 */
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, isAlreadyExists, type KubeObject, type ResourceType } from "./rest.ts";

const EVENT: ResourceType = { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true };

interface CoreEvent extends KubeObject {
  count?: number;
  lastTimestamp?: string;
}

export type EventType = "Normal" | "Warning";

/** Recently written Events remembered for folding (name → count); the oldest are forgotten first. */
const REMEMBERED_EVENTS = 4096;

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly counts = new Map<string, number>();
  constructor(kc: KubeConfig, component: string) {
    this.client = new KubeClient(kc);
    this.component = component;
  }

  /** Best effort: an Event that cannot be written is never a reason to fail a reconcile. */
  async record(
    regarding: KubeObject & { apiVersion: string; kind: string },
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = regarding.metadata.namespace ?? "default";
    const digest = createHash("sha256")
      .update(`${regarding.metadata.uid}|${type}|${reason}|${message}`)
      .digest("hex")
      .slice(0, 12);
    const name = `${regarding.metadata.name}.${digest}`;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    try {
      const known = this.counts.get(key(namespace, name));
      if (known !== undefined) {
        await this.bump(namespace, name, known + 1, now);
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
        count: 1,
      } as KubeObject);
      this.remember(namespace, name, 1);
    } catch (err) {
      if (isAlreadyExists(err)) await this.foldIntoExisting(namespace, name, now);
      // Otherwise best effort by design (see above): a lost Event is no reason to retry the reconcile.
    }
  }

  private async bump(namespace: string, name: string, count: number, now: string): Promise<void> {
    try {
      await this.client.patch(EVENT, namespace, name, { count, lastTimestamp: now }, "merge");
      this.remember(namespace, name, count);
    } catch {
      this.counts.delete(key(namespace, name)); // gone or unreadable: the next repeat starts afresh
    }
  }

  /** The Event exists but this recorder does not remember it (a restart): read its count once. */
  private async foldIntoExisting(namespace: string, name: string, now: string): Promise<void> {
    try {
      const existing = await this.client.get<CoreEvent>(EVENT, namespace, name);
      await this.bump(namespace, name, (existing.count ?? 1) + 1, now);
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
