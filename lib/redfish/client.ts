/**
 * A thin typed Redfish client on undici. There is no maintained Redfish library on npm (redfish-client has
 * one release, disables TLS verification and has no license), so this covers what metalpool needs:
 * sessions or basic auth, TLS verified against the BMC's own CA (insecure only when asked), timeouts,
 * bounded retries of idempotent requests, Systems, power, one-time boot override, and the resources
 * inventory is read from.
 */
import { Agent, fetch, type Response } from "undici";
import { RedfishError } from "./errors.ts";
import { chooseResetType, type PowerIntent, type ResetType } from "./reset.ts";

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

export type { ResetType } from "./reset.ts";
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
  Actions?: { "#ComputerSystem.Reset"?: ResetAction };
  "@odata.etag"?: string;
}

type ResetAction = { target: string; "ResetType@Redfish.AllowableValues"?: string[] };

/** Connection failures that happen before the request is written: the BMC cannot have seen it. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);

/** Node's codes for a certificate that does not verify. */
const TLS_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

interface Collection {
  Members?: ODataRef[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** 200 ms, 400 ms, 800 ms …: a BMC that is rebooting its web server gets a moment, a dead one fails fast. */
const backoffMs = (attempt: number): number => 200 * 2 ** attempt;

/**
 * Whether a failed exchange may be repeated. Never connected: the request cannot have reached the BMC, so
 * even a Reset is safe to repeat. A connection that broke after sending (reset, socket closed) may have
 * been acted on: only idempotent requests then. An untrusted certificate will not change by retrying.
 */
function retryableFailure(err: unknown, idempotent: boolean): boolean {
  return err instanceof RedfishError && err.kind !== "tls" && (idempotent || err.notSent);
}

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
      throw this.networkError(err, method, url.pathname);
    }
  }

  /** A failed exchange as a RedfishError: timeout, untrusted certificate, or unreachable (sent or not). */
  private networkError(err: unknown, method: string, path: string): RedfishError {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const code = e.cause?.code;
    const what = `${method} ${path}`;
    if (code === "UND_ERR_CONNECT_TIMEOUT")
      return new RedfishError(
        "timeout",
        `BMC ${this.host} did not accept a connection for ${what}`,
        undefined,
        {
          notSent: true,
        },
      );
    if (e.name === "TimeoutError")
      return new RedfishError(
        "timeout",
        `BMC ${this.host} did not answer ${what} within ${this.endpoint.timeoutMs} ms`,
      );
    if (code && TLS_CODES.has(code))
      return new RedfishError(
        "tls",
        `BMC ${this.host}: its certificate is not trusted (${code}); give the BMC's CA bundle, or set insecureTLS only if you accept the risk`,
        undefined,
        { notSent: true },
      );
    const detail = code ?? e.cause?.message ?? e.message;
    return new RedfishError("unreachable", `BMC ${this.host} unreachable for ${what}: ${detail}`, undefined, {
      notSent: code !== undefined && NOT_SENT_CODES.has(code),
    });
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
      const canRetry = attempt < this.endpoint.retries;
      let res: Response;
      try {
        res = await this.raw(method, path, body, { ...(await this.authHeaders()), ...extraHeaders });
      } catch (err) {
        if (!(canRetry && retryableFailure(err, idempotent))) throw err;
        await sleep(backoffMs(attempt));
        continue;
      }
      if (attempt === 0 && (await this.sessionExpired(res))) continue;
      if (res.status >= 500 && idempotent && canRetry) {
        await res.text().catch(() => "");
        await sleep(backoffMs(attempt));
        continue;
      }
      return this.read<T>(res, method, path);
    }
  }

  /** A 401 on a session token: the BMC dropped the session (timeout, reboot). Forget it to log in again. */
  private async sessionExpired(res: Response): Promise<boolean> {
    if (res.status !== 401 || !this.session) return false;
    this.session = undefined;
    await res.text().catch(() => "");
    return true;
  }

  private async read<T>(res: Response, method: string, path: string): Promise<{ body: T; etag?: string }> {
    const text = await res.text();
    const what = `BMC ${this.host} ${method} ${path}`;
    if (res.status === 401 || res.status === 403)
      throw new RedfishError("unauthorized", `${what}: credentials refused (HTTP ${res.status})`, res.status);
    if (res.status >= 400) {
      // The BMC's own words, minus anything that echoes the credentials back (some BMCs quote the
      // offending property value in their error messages).
      const message = this.scrub(redfishMessage(text) ?? (text.slice(0, 200) || res.statusText));
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

  private scrub(text: string): string {
    let out = text;
    for (const secret of [this.endpoint.password, this.session?.token])
      if (secret) out = out.split(secret).join("[redacted]");
    return out;
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

  /** Sends ComputerSystem.Reset of exactly `type`; refused before sending if the system does not allow it. */
  async reset(type: ResetType, id?: string): Promise<void> {
    const system = await this.system(id);
    const action = this.resetAction(system);
    const allowed = action["ResetType@Redfish.AllowableValues"];
    if (allowed && !allowed.includes(type)) {
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${system.Id} does not allow ResetType ${type} (allowed: ${allowed.join(", ")})`,
      );
    }
    await this.request("POST", action.target, { ResetType: type });
  }

  /** Powers on, off or restarts with the reset type this system allows (see reset.ts); returns the type sent. */
  async power(intent: PowerIntent, id?: string): Promise<ResetType> {
    const system = await this.system(id);
    const action = this.resetAction(system);
    const allowed = action["ResetType@Redfish.AllowableValues"];
    const type = chooseResetType(intent, allowed);
    if (!type)
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${system.Id} allows no reset type to power ${intent} (allowed: ${(allowed ?? []).join(", ")})`,
      );
    await this.request("POST", action.target, { ResetType: type });
    return type;
  }

  private resetAction(system: ComputerSystem): ResetAction {
    const action = system.Actions?.["#ComputerSystem.Reset"];
    if (!action)
      throw new RedfishError(
        "unsupported",
        `BMC ${this.host} system ${system.Id} has no ComputerSystem.Reset action`,
      );
    return action;
  }

  /** Boots from the network once, then back to the usual order. UEFI or Legacy per the server's firmware. */
  async setOneTimePxe(mode: "UEFI" | "Legacy", id?: string): Promise<void> {
    const path = `/redfish/v1/Systems/${encodeURIComponent(id ?? (await this.system()).Id)}`;
    const patch = {
      Boot: {
        BootSourceOverrideTarget: "Pxe",
        BootSourceOverrideEnabled: "Once",
        BootSourceOverrideMode: mode,
      },
    };
    for (let attempt = 0; ; attempt++) {
      const { body, etag } = await this.request<ComputerSystem>("GET", path);
      const allowed = body.Boot?.["BootSourceOverrideTarget@Redfish.AllowableValues"];
      if (allowed && !allowed.includes("Pxe"))
        throw new RedfishError(
          "unsupported",
          `BMC ${this.host} system ${body.Id} cannot boot from Pxe (allowed: ${allowed.join(", ")})`,
        );
      try {
        // Some BMCs (AMI) refuse a PATCH without the resource's ETag.
        await this.request("PATCH", path, patch, etag ? { "if-match": etag } : {});
        return;
      } catch (err) {
        // 412: the system changed between our GET and PATCH (its ETag moved on). Read it again, once.
        if (!(err instanceof RedfishError && err.status === 412 && attempt === 0)) throw err;
      }
    }
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
