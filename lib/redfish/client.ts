/**
 * A thin typed Redfish client on undici. There is no maintained Redfish library on npm (redfish-client has
 * one release, disables TLS verification and has no license), so this covers what metalpool needs:
 * sessions or basic auth, TLS verified against the BMC's own CA (insecure only when asked), timeouts,
 * bounded retries of idempotent requests, Systems, power, one-time boot override, and the resources
 * inventory is read from.
 */
import { Agent, fetch, type Response } from "undici";
import { RedfishError } from "./errors.ts";

export interface RedfishEndpoint {
  /** Base URL of the BMC, e.g. https://10.0.0.5 or http://127.0.0.1:8000. */
  url: string;
  username: string;
  password: string;
  /** PEM CA bundle the BMC's certificate must chain to. */
  ca?: string;
  /** Skip certificate verification. Only when a person says so (bmc Machine insecureTLS). */
  insecure?: boolean;
  timeoutMs?: number;
  /** Extra attempts for idempotent requests on network errors and 5xx. */
  retries?: number;
  auth?: "auto" | "session" | "basic";
}

export type ResetType =
  | "On"
  | "ForceOff"
  | "GracefulShutdown"
  | "GracefulRestart"
  | "ForceRestart"
  | "ForceOn"
  | "PowerCycle"
  | "Nmi"
  | "PushPowerButton";
export type PowerState = "On" | "Off" | "PoweringOn" | "PoweringOff" | "Paused";

export interface ODataRef {
  "@odata.id": string;
}

export interface ComputerSystem {
  Id: string;
  Name?: string;
  UUID?: string;
  Manufacturer?: string;
  Model?: string;
  SerialNumber?: string;
  PowerState?: PowerState;
  Boot?: {
    BootSourceOverrideEnabled?: string;
    BootSourceOverrideTarget?: string;
    BootSourceOverrideMode?: string;
    "BootSourceOverrideTarget@Redfish.AllowableValues"?: string[];
  };
  ProcessorSummary?: { Count?: number; LogicalProcessorCount?: number; CoreCount?: number };
  MemorySummary?: { TotalSystemMemoryGiB?: number };
  Processors?: ODataRef;
  Storage?: ODataRef;
  SimpleStorage?: ODataRef;
  EthernetInterfaces?: ODataRef;
  Actions?: { "#ComputerSystem.Reset"?: { target: string; "ResetType@Redfish.AllowableValues"?: string[] } };
  "@odata.etag"?: string;
}

interface Collection {
  Members?: ODataRef[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class RedfishClient {
  private readonly endpoint: Required<Pick<RedfishEndpoint, "timeoutMs" | "retries" | "auth">> &
    RedfishEndpoint;
  private readonly agent: Agent;
  private readonly base: URL;
  private session: { token: string; location?: string } | undefined;
  private sessionsUnsupported = false;

  constructor(endpoint: RedfishEndpoint) {
    this.endpoint = { timeoutMs: 10_000, retries: 2, auth: "auto", ...endpoint };
    this.base = new URL(endpoint.url);
    if (this.base.username || this.base.password)
      throw new RedfishError("client", "put BMC credentials in a Secret, not in the URL");
    this.agent = new Agent({
      connect: { ca: endpoint.ca, rejectUnauthorized: !endpoint.insecure },
      connectTimeout: this.endpoint.timeoutMs,
    });
  }

  get host(): string {
    return this.base.host;
  }

  async close(): Promise<void> {
    if (this.session?.location) await this.raw("DELETE", this.session.location).catch(() => undefined);
    this.session = undefined;
    await this.agent.close();
  }

  // ---- requests ------------------------------------------------------------------------------------

  private async authHeaders(): Promise<Record<string, string>> {
    const { auth } = this.endpoint;
    if (auth !== "basic" && !this.sessionsUnsupported && !this.session) await this.login(auth === "session");
    if (this.session) return { "x-auth-token": this.session.token };
    const basic = Buffer.from(`${this.endpoint.username}:${this.endpoint.password}`).toString("base64");
    return { authorization: `Basic ${basic}` };
  }

  /** Opens a Redfish session; falls back to basic auth when the BMC has no session service (unless required). */
  private async login(required: boolean): Promise<void> {
    const res = await this.raw("POST", "/redfish/v1/SessionService/Sessions", {
      UserName: this.endpoint.username,
      Password: this.endpoint.password,
    });
    const token = res.headers.get("x-auth-token");
    if (res.ok && token) {
      this.session = {
        token,
        ...(res.headers.get("location") ? { location: res.headers.get("location") as string } : {}),
      };
      return;
    }
    await res.text().catch(() => "");
    if (required) {
      const refused = res.status === 401 || res.status === 403;
      throw new RedfishError(
        refused ? "unauthorized" : "unsupported",
        refused
          ? `BMC ${this.host} refused the credentials (HTTP ${res.status})`
          : `BMC ${this.host} has no usable session service (HTTP ${res.status})`,
        res.status,
      );
    }
    // Some BMCs (and sushy-tools) protect even the session service with basic auth, or have none:
    // basic auth then decides, and a wrong password is reported by the request itself.
    this.sessionsUnsupported = true;
  }

  /** One HTTP exchange, with network failures and timeouts turned into RedfishErrors. */
  private async raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const url = new URL(path, this.base);
    try {
      return await fetch(url, {
        method,
        dispatcher: this.agent,
        headers: {
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.endpoint.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === "TimeoutError" || e.cause?.code === "UND_ERR_CONNECT_TIMEOUT") {
        throw new RedfishError(
          "timeout",
          `BMC ${this.host} did not answer ${method} ${url.pathname} within ${this.endpoint.timeoutMs} ms`,
        );
      }
      const detail = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new RedfishError(
        "unreachable",
        `BMC ${this.host} unreachable for ${method} ${url.pathname}: ${detail}`,
      );
    }
  }

  /** A request with auth, retries (idempotent ones only, or any that never reached the BMC) and typed errors. */
  async request<T>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ body: T; etag?: string }> {
    const idempotent = method === "GET" || method === "DELETE";
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.raw(method, path, body, { ...(await this.authHeaders()), ...extraHeaders });
      } catch (err) {
        // Not connected at all: the request never reached the BMC, so even a Reset is safe to repeat.
        const neverSent = err instanceof RedfishError && err.kind === "unreachable";
        if ((idempotent || neverSent) && attempt < this.endpoint.retries) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        throw err;
      }
      if (res.status === 401 && this.session && attempt === 0) {
        this.session = undefined; // the session expired: log in again once
        await res.text().catch(() => "");
        continue;
      }
      if (res.status >= 500 && idempotent && attempt < this.endpoint.retries) {
        await res.text().catch(() => "");
        await sleep(200 * 2 ** attempt);
        continue;
      }
      return this.read<T>(res, method, path);
    }
  }

  private async read<T>(res: Response, method: string, path: string): Promise<{ body: T; etag?: string }> {
    const text = await res.text();
    const what = `BMC ${this.host} ${method} ${path}`;
    if (res.status === 401 || res.status === 403)
      throw new RedfishError("unauthorized", `${what}: credentials refused (HTTP ${res.status})`, res.status);
    if (res.status >= 400) {
      const message = redfishMessage(text) ?? (text.slice(0, 200) || res.statusText);
      throw new RedfishError(
        res.status >= 500 ? "server" : "client",
        `${what}: HTTP ${res.status}: ${message}`,
        res.status,
      );
    }
    let body: T = {} as T;
    if (text) {
      try {
        body = JSON.parse(text) as T;
      } catch {
        throw new RedfishError("protocol", `${what}: the answer is not JSON`);
      }
    }
    const etag = res.headers.get("etag") ?? (body as { "@odata.etag"?: string })["@odata.etag"];
    return { body, ...(etag ? { etag } : {}) };
  }

  async get<T>(path: string): Promise<T> {
    return (await this.request<T>("GET", path)).body;
  }

  // ---- systems and power ----------------------------------------------------------------------------

  async systemIds(): Promise<string[]> {
    const col = await this.get<Collection>("/redfish/v1/Systems");
    return (col.Members ?? []).map((m) => m["@odata.id"].split("/").filter(Boolean).at(-1) ?? "");
  }

  /** The system by Id, or the only one when `id` is not given. */
  async system(id?: string): Promise<ComputerSystem> {
    if (id) return this.get<ComputerSystem>(`/redfish/v1/Systems/${encodeURIComponent(id)}`);
    const ids = await this.systemIds();
    if (ids.length !== 1)
      throw new RedfishError(
        "client",
        `BMC ${this.host} manages ${ids.length} systems; name one (providerOptions.redfish.systemName)`,
      );
    return this.system(ids[0]);
  }

  async powerState(id?: string): Promise<PowerState | undefined> {
    return (await this.system(id)).PowerState;
  }

  async reset(type: ResetType, id?: string): Promise<void> {
    const system = await this.system(id);
    const action = system.Actions?.["#ComputerSystem.Reset"];
    if (!action)
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${system.Id} has no ComputerSystem.Reset action`,
      );
    const allowed = action["ResetType@Redfish.AllowableValues"];
    if (allowed && !allowed.includes(type)) {
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${system.Id} does not allow ResetType ${type} (allowed: ${allowed.join(", ")})`,
      );
    }
    await this.request("POST", action.target, { ResetType: type });
  }

  /** Boots from the network once, then back to the usual order. UEFI or Legacy per the server's firmware. */
  async setOneTimePxe(mode: "UEFI" | "Legacy", id?: string): Promise<void> {
    const path = id
      ? `/redfish/v1/Systems/${encodeURIComponent(id)}`
      : `/redfish/v1/Systems/${(await this.system()).Id}`;
    const { body, etag } = await this.request<ComputerSystem>("GET", path);
    const allowed = body.Boot?.["BootSourceOverrideTarget@Redfish.AllowableValues"];
    if (allowed && !allowed.includes("Pxe"))
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${body.Id} cannot boot from Pxe (allowed: ${allowed.join(", ")})`,
      );
    // Some BMCs (AMI) refuse a PATCH without the resource's ETag.
    await this.request(
      "PATCH",
      path,
      {
        Boot: {
          BootSourceOverrideTarget: "Pxe",
          BootSourceOverrideEnabled: "Once",
          BootSourceOverrideMode: mode,
        },
      },
      etag ? { "if-match": etag } : {},
    );
  }
}

/** The human message of a Redfish error body (error.@Message.ExtendedInfo[0].Message, or error.message). */
function redfishMessage(text: string): string | undefined {
  try {
    const e = (
      JSON.parse(text) as { error?: { message?: string; "@Message.ExtendedInfo"?: { Message?: string }[] } }
    ).error;
    return e?.["@Message.ExtendedInfo"]?.find((i) => i.Message)?.Message ?? e?.message;
  } catch {
    return undefined;
  }
}
