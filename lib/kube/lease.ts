/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: acquire when the lease is free or
 * expired, renew every retry period, and give up leadership if renewal has not succeeded within the renew
 * deadline, so two replicas never both believe they lead. Every write is resourceVersion-guarded.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, isConflict, isNotFound, type KubeObject, type ResourceType } from "./rest.ts";

const LEASE: ResourceType = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

interface Lease extends KubeObject {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

/** Microsecond timestamps as the Lease API wants them (RFC 3339 with 6 fraction digits). */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, "onError">> &
    Pick<LeaderElectionOptions, "onError">;
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.client = new KubeClient(kc);
    this.opts = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops campaigning and, when leading, releases the lease so a peer takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.client.get<Lease>(LEASE, this.opts.namespace, this.opts.name);
      if (lease.spec.holderIdentity === this.opts.identity) {
        lease.spec.holderIdentity = undefined;
        lease.spec.leaseDurationSeconds = 1;
        await this.client.update(LEASE, lease);
      }
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) this.opts.onStartedLeading();
    else this.opts.onStoppedLeading();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (await this.tryAcquireOrRenew()) this.lastRenew = Date.now();
    } catch (err) {
      this.opts.onError?.(err);
    }
    if (this.leading && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) this.setLeading(false);
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const { namespace, name, identity } = this.opts;
    const durationSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    const current = await this.client.getOrNull<Lease>(LEASE, namespace, name).catch((err: unknown) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (!current) {
      await this.client.create<Lease>(LEASE, {
        metadata: { namespace, name },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      this.setLeading(true);
      return true;
    }
    const holder = current.spec.holderIdentity;
    const renewed = current.spec.renewTime ? Date.parse(current.spec.renewTime) : 0;
    const expired = !holder || renewed + (current.spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now;
    if (holder !== identity && !expired) {
      this.setLeading(false);
      return false;
    }
    const takingOver = holder !== identity;
    current.spec = {
      ...current.spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(takingOver
        ? { acquireTime: microTime(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }
        : {}),
    };
    try {
      await this.client.update(LEASE, current);
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first; look again next period
      throw err;
    }
    this.setLeading(true);
    return true;
  }
}
