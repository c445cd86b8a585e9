/**
 * Kubernetes Events for a regarding object, so `kubectl describe` shows what the controller did.
 * Repeats of the same reason and message are folded into one Event with a count, as kubelet does.
 */
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, type KubeObject, type ResourceType } from "./rest.ts";

const EVENT: ResourceType = { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true };

interface CoreEvent extends KubeObject {
  count?: number;
  lastTimestamp?: string;
}

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
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
      const existing = await this.client.getOrNull<CoreEvent>(EVENT, namespace, name);
      if (existing) {
        await this.client.patch(
          EVENT,
          namespace,
          name,
          { count: (existing.count ?? 1) + 1, lastTimestamp: now },
          "merge",
        );
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
    } catch {
      // Best effort by design (see above): a lost Event is no reason to retry the reconcile.
    }
  }
}
