/**
 * WORKFLOW SIMULATOR — a stand-in for what cannot run here. On a real site tink-controller renders a
 * Workflow and tink-worker/tink-agent runs its actions in containers on the server; no container runtime
 * runs here, so this simulator moves Workflow status the way they would (PENDING → RUNNING → SUCCESS, or
 * FAILED / stuck), against the real API server and the real Workflow CRD. Tests script the outcome per
 * Hardware and attempt. `start` polls (a list every few hundred ms, Workflows advanced one by one);
 * `watch` reacts to each Workflow change at once and advances many side by side, for benchmarks where the
 * simulator must never be what the operator waits for.
 */
import { WORKFLOW, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { WorkQueue } from "../../lib/kube/queue.ts";
import { KubeClient, isConflict, isNotFound } from "../../lib/kube/rest.ts";
import type { KubeConfig } from "@kubernetes/client-node";

export type SimulatedOutcome = "succeed" | "fail" | "hang";
export type Script = (wf: Workflow) => SimulatedOutcome;

const NEXT: Record<string, string> = { "": "PENDING", PENDING: "RUNNING", RUNNING: "DONE" };

/** The status the simulator writes when it moves `wf` to `next` (also replayed by the scale benchmark). */
export function simulatedStatus(wf: Workflow, next: string): Record<string, unknown> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const mac = wf.spec.hardwareMap?.device_1 ?? "";
  const failed = next === "FAILED";
  return {
    ...wf.status,
    state: next,
    agentID: mac,
    tasks: [
      {
        id: "task-main",
        name: "main",
        agentID: mac,
        actions: [
          {
            id: "action-stream-image",
            name: "stream-image",
            state: failed ? "FAILED" : next === "SUCCESS" ? "SUCCESS" : "RUNNING",
            message: failed ? "simulated: image download failed" : "",
          },
        ],
      },
    ],
    conditions: [
      {
        type: "Simulated",
        status: failed ? "False" : "True",
        reason: next,
        message: `simulator moved to ${next}`,
        time: now,
      },
    ],
  };
}

export class WorkflowSimulator {
  private readonly kc: KubeConfig;
  private readonly client: KubeClient;
  private readonly namespace: string;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private informer: Informer<Workflow> | undefined;
  private queue: WorkQueue | undefined;
  script: Script;
  /** Every Workflow name this simulator has seen, in order of first sight. */
  readonly seen: string[] = [];
  private readonly seenSet = new Set<string>();
  readonly errors: string[] = [];

  constructor(kc: KubeConfig, namespace: string, script: Script = () => "succeed") {
    this.kc = kc;
    this.client = new KubeClient(kc);
    this.namespace = namespace;
    this.script = script;
  }

  start(everyMs = 300): void {
    this.timer = setInterval(() => void this.step(), everyMs);
  }

  /**
   * Event-driven: every Workflow added or changed is advanced by one state as soon as the watch shows it
   * (the write's own watch event brings the next step), up to `concurrency` at once. Resolves once watching.
   */
  async watch(concurrency = 16): Promise<void> {
    const informer = new Informer<Workflow>(this.kc, WORKFLOW, {
      namespace: this.namespace,
      onError: (err) => this.errors.push(err instanceof Error ? err.message : String(err)),
    });
    const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    const enqueue = (wf: Workflow): void => queue.add(wf.metadata.name ?? "");
    informer.on("add", enqueue).on("update", enqueue);
    this.informer = informer;
    this.queue = queue;
    await informer.start();
    const worker = async (): Promise<void> => {
      for (let name = await queue.get(); name !== undefined; name = await queue.get()) {
        const wf = informer.get(this.namespace, name);
        try {
          if (wf) await this.advance(wf);
        } catch (err) {
          this.errors.push(err instanceof Error ? err.message : String(err));
        } finally {
          queue.done(name);
        }
      }
    };
    for (let i = 0; i < concurrency; i++) void worker();
  }

  /** Stops stepping; watch workers end after the step in hand. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.informer?.stop();
    this.queue?.shutDown();
  }

  /** Advances every Workflow by one state. */
  async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const list = await this.client.list<Workflow>(WORKFLOW, this.namespace);
      for (const wf of list.items) await this.advance(wf);
    } catch (err) {
      // A simulator bug must fail loudly in the test that relies on it, not as an unhandled rejection.
      this.errors.push(err instanceof Error ? err.message : String(err));
    } finally {
      this.busy = false;
    }
  }

  private async advance(wf: Workflow): Promise<void> {
    const name = wf.metadata.name ?? "";
    if (!this.seenSet.has(name)) {
      this.seenSet.add(name);
      this.seen.push(name);
    }
    const state = wf.status?.state ?? "";
    let next = NEXT[state];
    if (!next) return; // terminal
    const outcome = this.script(wf);
    if (next === "DONE") next = outcome === "succeed" ? "SUCCESS" : outcome === "fail" ? "FAILED" : "";
    if (!next || (outcome === "hang" && state === "RUNNING")) return;
    const status = simulatedStatus(wf, next);
    try {
      await this.client.patch(WORKFLOW, this.namespace, name, { status }, "merge", { subresource: "status" });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
