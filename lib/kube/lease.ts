/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection package does it:
 *
 * - Expiry is judged on this replica's own clock: a lease held by another replica is free only when its
 *   record has not changed for a full lease duration since this replica last saw it change. The holder's
 *   renewTime (another machine's clock) is never compared with ours, so skewed clocks cannot make two
 *   leaders.
 * - A leader counts its lease from the moment it *sent* its last successful renewal, and stops leading
 *   renewDeadline after that, on a timer, even while a renewal is still in flight; every request is bounded
 *   by the time left. Since renewDeadline < leaseDuration, the leader has stopped before any peer, watching
 *   the same record, may take over.
 * - Stopping leading aborts `signal`, so in-flight API calls and actions end before a peer can start.
 *
 * Every write is resourceVersion-guarded.
 */
import type { KubeConfig } from "./kubeconfig.ts";
import { KubeClient, isConflict, type KubeObject, type ResourceType } from "./rest.ts";

export const LEASE: ResourceType = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec: LeaseSpec;
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: (signal: AbortSignal) => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
  /** Every read or write of the Lease: how often leadership has changed hands so far (for metrics). */
  onObserved?: (leaseTransitions: number) => void;
  /** This replica's clock (tests skew it); Date.now by default. */
  now?: () => number;
}

/** Microsecond timestamps as the Lease API wants them (RFC 3339 with 6 fraction digits). */
export const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** What identifies a change of the record: any write by anyone changes one of these. */
const recordKey = (l: Lease): string =>
  [
    l.spec.holderIdentity ?? "",
    l.spec.renewTime ?? "",
    l.spec.acquireTime ?? "",
    l.metadata.resourceVersion,
  ].join("|");

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, "onError" | "onObserved">> &
    Pick<LeaderElectionOptions, "onError" | "onObserved">;
  /** The record as last seen and when (our clock) it last changed. */
  private observed: { key: string; at: number } | undefined;
  /** The Lease as last read or written, for the leader's renewal without a read (client-go's fast path). */
  private last: Lease | undefined;
  /** While leading: when this replica must stop unless a renewal succeeds first (our clock). */
  private leadingUntil = 0;
  private leadership: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    this.client = new KubeClient(kc);
    this.opts = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: Date.now,
      ...opts,
    };
    if (this.opts.renewDeadlineMs >= this.opts.leaseDurationMs)
      throw new Error("the renew deadline must be shorter than the lease duration");
    if (this.opts.retryPeriodMs >= this.opts.renewDeadlineMs)
      throw new Error("the retry period must be shorter than the renew deadline");
  }

  /** True only while the last renewal is younger than the renew deadline, by the clock, not by a flag. */
  isLeader(): boolean {
    return this.leadership !== undefined && this.opts.now() < this.leadingUntil;
  }

  /** Aborts when this replica stops leading; undefined while it does not lead. */
  get signal(): AbortSignal | undefined {
    return this.leadership?.signal;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  /**
   * Stops campaigning and, when leading, releases the lease so a peer takes over at once. Without `release`
   * the lease is left to expire, as after a crash.
   */
  async stop({ release = true }: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.tickTimer);
    if (!this.leadership) return;
    const wasLeader = this.isLeader();
    this.stopLeading("stopping");
    if (!wasLeader || !release) return;
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

  private startLeading(until: number): void {
    this.leadingUntil = until;
    clearTimeout(this.deadlineTimer);
    // Fires at the deadline even while a renewal hangs: leadership ends on time, not when a request returns.
    this.deadlineTimer = setTimeout(
      () => this.stopLeading("lease not renewed within the renew deadline"),
      Math.max(0, until - this.opts.now()),
    );
    if (this.leadership) return;
    this.leadership = new AbortController();
    this.opts.onStartedLeading(this.leadership.signal);
  }

  private stopLeading(why: string): void {
    clearTimeout(this.deadlineTimer);
    const leadership = this.leadership;
    if (!leadership) return;
    this.leadership = undefined;
    this.leadingUntil = 0;
    leadership.abort(new Error(`leadership lost: ${why}`));
    this.opts.onStoppedLeading();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const sentAt = this.opts.now();
    // A leader's request may take only the time its lease has left; a candidate's, one retry period.
    const budget = this.leadership ? this.leadingUntil - sentAt : this.opts.retryPeriodMs;
    try {
      const until = sentAt + this.opts.renewDeadlineMs;
      // A renewal that returns after its deadline does not revive a leadership already given up.
      if (budget > 0 && (await this.tryAcquireOrRenew(sentAt, budget)) && this.opts.now() < until)
        this.startLeading(until);
    } catch (err) {
      this.opts.onError?.(err);
    }
    if (this.leadership && !this.isLeader()) this.stopLeading("lease not renewed within the renew deadline");
    if (!this.stopped) this.tickTimer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }

  /** One attempt; true when this replica holds the lease as of `now` (the time the request was sent). */
  private async tryAcquireOrRenew(now: number, budgetMs: number): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const client = this.client.withSignal(AbortSignal.timeout(Math.max(1, budgetMs)));
    const durationSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    if (await this.renewOptimistically(client, now, durationSeconds)) return true;
    const current = await client.getOrNull<Lease>(LEASE, namespace, name);
    if (!current) {
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      this.observe(await client.create<Lease>(LEASE, { metadata: { namespace, name }, spec }));
      return true;
    }
    this.observe(current);
    const holder = current.spec.holderIdentity;
    const unchangedFor = this.opts.now() - (this.observed?.at ?? this.opts.now());
    const leaseMs = (current.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder && holder !== identity && unchangedFor < leaseMs) {
      this.stopLeading(`the lease is held by ${holder}`);
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
      this.observe(await client.update(LEASE, current));
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote first; look again next period
      throw err;
    }
    return true;
  }

  /**
   * A leader renews from the Lease it last wrote, guarded by that resourceVersion: one request a period
   * instead of a read and a write. Any other writer since then makes it a conflict (false), and the full
   * look (read, judge expiry, write) decides, as client-go does.
   */
  private async renewOptimistically(
    client: KubeClient,
    now: number,
    durationSeconds: number,
  ): Promise<boolean> {
    if (!this.isLeader() || this.last?.spec.holderIdentity !== this.opts.identity) return false;
    const renewal = structuredClone(this.last);
    renewal.spec = { ...renewal.spec, leaseDurationSeconds: durationSeconds, renewTime: microTime(now) };
    try {
      this.observe(await client.update(LEASE, renewal));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Notes the record; its change time moves only when the record really changed. */
  private observe(lease: Lease): void {
    this.last = lease;
    this.opts.onObserved?.(lease.spec.leaseTransitions ?? 0);
    const key = recordKey(lease);
    // Seen now, after the read returned: a later time than any write it reflects, so expiry errs late.
    if (this.observed?.key !== key) this.observed = { key, at: this.opts.now() };
  }
}
