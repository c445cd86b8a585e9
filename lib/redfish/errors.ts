/**
 * What can go wrong talking to a BMC, as one error type with a kind a controller can act on. Messages name
 * the BMC and what failed, never credentials: no message is ever built from a username, password or token.
 */
export type RedfishErrorKind =
  "unreachable" | "timeout" | "unauthorized" | "server" | "client" | "protocol" | "unsupported";

export class RedfishError extends Error {
  readonly kind: RedfishErrorKind;
  readonly status?: number;
  constructor(kind: RedfishErrorKind, message: string, status?: number) {
    super(message);
    this.name = "RedfishError";
    this.kind = kind;
    if (status !== undefined) this.status = status;
  }

  /** Worth retrying later: the BMC may come back. Wrong credentials or requests will not fix themselves. */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "server";
  }
}
