/**
 * What can go wrong talking to a BMC, as one error type with a kind a controller can act on. Messages name
 * the BMC and what failed, never credentials: no message is ever built from a username, password or token.
 */
export type RedfishErrorKind =
  "unreachable" | "timeout" | "unauthorized" | "tls" | "server" | "client" | "protocol" | "unsupported";

export class RedfishError extends Error {
  readonly kind: RedfishErrorKind;
  readonly status?: number;
  /**
   * The connection failed before a byte of the request left (refused, no route, name not found, connect
   * timeout, certificate refused): the BMC cannot have acted, so even a Reset may be sent again.
   */
  readonly notSent: boolean;
  constructor(kind: RedfishErrorKind, message: string, status?: number, opts: { notSent?: boolean } = {}) {
    super(message);
    this.name = "RedfishError";
    this.kind = kind;
    this.notSent = opts.notSent ?? false;
    if (status !== undefined) this.status = status;
  }

  /**
   * Worth retrying later: the BMC may come back. Wrong credentials, an untrusted certificate or a bad
   * request will not fix themselves; they need a person.
   */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "server";
  }
}
