/**
 * IN-OS AGENT SIMULATOR — a stand-in for what cannot run here. On a real site the server boots HookOS and
 * its tink-agent asks tink-server over gRPC for the next action (GetAction), runs it in a container
 * (docker, containerd or kubernetes: none runs here) and reports how it went (ReportActionStatus). This
 * simulator speaks the same two RPCs of Tinkerbell's proto.WorkflowService to the real tink-server, on the
 * VM's behalf, with the agent ID a real agent would use (the Workflow's worker, the MAC). It runs nothing:
 * each action is reported RUNNING, then SUCCESS (or FAILED when the script says so).
 */
import { join } from "node:path";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { loadSync, type MethodDefinition, type ServiceDefinition } from "@grpc/proto-loader";

export interface ActionResponse {
  workflowId?: string;
  taskId?: string;
  agentId?: string;
  actionId?: string;
  name?: string;
  image?: string;
  timeout?: string;
  command?: string[];
  environment?: string[];
  volumes?: string[];
}

export type ActionOutcome = "succeed" | "fail";
export type ActionScript = (action: ActionResponse) => ActionOutcome;

export interface RanAction {
  workflow: string;
  action: string;
  image: string;
  outcome: ActionOutcome;
}

type Unary = MethodDefinition<object, object>;

function workflowService(protoDir: string): { getAction: Unary; reportActionStatus: Unary } {
  const definition = loadSync(join(protoDir, "workflow_service.proto"), {
    includeDirs: [protoDir],
    longs: String,
    enums: String,
    defaults: false,
  });
  const service = definition["proto.WorkflowService"] as ServiceDefinition | undefined;
  const getAction = service?.GetAction;
  const reportActionStatus = service?.ReportActionStatus;
  if (!getAction || !reportActionStatus)
    throw new Error(`proto.WorkflowService not found in ${protoDir}/workflow_service.proto`);
  return { getAction, reportActionStatus };
}

const timestamp = (ms: number): { seconds: string; nanos: number } => ({
  seconds: String(Math.floor(ms / 1000)),
  nanos: (ms % 1000) * 1_000_000,
});

export class AgentSimulator {
  private readonly client: Client;
  private readonly rpc: ReturnType<typeof workflowService>;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Every action this agent reported, in order (into the caller's list when given one). */
  readonly ran: RanAction[];
  /** Unexpected RPC errors (not "nothing to do yet"), for the test's failure message. */
  readonly errors: string[] = [];

  readonly agentId: string;
  private readonly script: ActionScript;

  constructor(
    grpcAddress: string,
    protoDir: string,
    agentId: string,
    opts: { script?: ActionScript; ran?: RanAction[] } = {},
  ) {
    this.agentId = agentId;
    this.script = opts.script ?? (() => "succeed");
    this.ran = opts.ran ?? [];
    this.rpc = workflowService(protoDir);
    this.client = new Client(grpcAddress, credentials.createInsecure());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.client.close();
    await this.loop;
  }

  private call<T>(method: Unary, request: object, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, value?: object) => (err ? reject(err) : resolve(value as T)),
      );
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let action: ActionResponse;
      try {
        // tink-server retries "no Workflow yet" for up to a minute before answering; a short deadline
        // keeps this loop responsive to stop().
        action = await this.call<ActionResponse>(this.rpc.getAction, { agentId: this.agentId }, 5_000);
      } catch (err) {
        const code = (err as ServiceError).code;
        const idle = [
          status.NOT_FOUND,
          status.FAILED_PRECONDITION,
          status.DEADLINE_EXCEEDED,
          status.UNAVAILABLE,
          status.CANCELLED,
        ];
        if (!idle.includes(code)) this.errors.push(`GetAction: ${(err as Error).message}`);
        if (this.running) await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      await this.perform(action);
    }
  }

  private async perform(action: ActionResponse): Promise<void> {
    const outcome = this.script(action);
    const started = Date.now();
    const base = {
      workflowId: action.workflowId,
      agentId: this.agentId,
      taskId: action.taskId,
      actionId: action.actionId,
      actionName: action.name,
      executionStart: timestamp(started),
    };
    try {
      await this.call(this.rpc.reportActionStatus, { ...base, actionState: "RUNNING" }, 70_000);
      const stopped = Date.now();
      await this.call(
        this.rpc.reportActionStatus,
        {
          ...base,
          actionState: outcome === "succeed" ? "SUCCESS" : "FAILED",
          executionStop: timestamp(stopped),
          executionDuration: `${stopped - started}ms`,
          message: { message: outcome === "succeed" ? "simulated" : "simulated failure" },
        },
        70_000,
      );
      this.ran.push({
        workflow: action.workflowId ?? "",
        action: action.name ?? "",
        image: action.image ?? "",
        outcome,
      });
    } catch (err) {
      if (this.running) this.errors.push(`ReportActionStatus ${action.name}: ${(err as Error).message}`);
    }
  }
}
