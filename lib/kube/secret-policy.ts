/**
 * Which Secrets a reference may reach, and where credentials may be sent. Anyone who can write a pool, a
 * bmc Machine or a Hardware annotation controls a reference; without these rules they could have the
 * operator read a Secret in a namespace they cannot read and send its contents to a host of their choosing.
 *
 * - A reference stays in the referring object's namespace, unless the operator is started with that
 *   namespace in --secret-namespaces (the chart's secretNamespaces).
 * - Credentials go to a BMC over https only, unless --allow-insecure-bmc says plain http is acceptable.
 */
export interface SecretPolicy {
  /** Namespaces, besides the referring object's own, that a Secret reference may point into. */
  readonly extraNamespaces: readonly string[];
  /** Whether a BMC endpoint may be plain http (credentials then cross the network unencrypted). */
  readonly allowInsecureBmc: boolean;
}

export const STRICT_SECRET_POLICY: SecretPolicy = { extraNamespaces: [], allowInsecureBmc: false };

/** Why `owner` (in `ownNamespace`) may not use a Secret in `secretNamespace`, or undefined when it may. */
export function secretNamespaceRefusal(
  policy: SecretPolicy,
  owner: string,
  ownNamespace: string,
  secretNamespace: string,
): string | undefined {
  if (secretNamespace === ownNamespace || policy.extraNamespaces.includes(secretNamespace)) return undefined;
  const allowed = [ownNamespace, ...policy.extraNamespaces].join(", ");
  return `${owner} refers to a Secret in namespace ${secretNamespace}; references may only point into ${allowed} (the operator's --secret-namespaces lists more)`;
}

/** Why credentials may not be sent to `url`, or undefined when they may. */
export function insecureEndpointRefusal(
  policy: SecretPolicy,
  owner: string,
  url: string,
): string | undefined {
  if (new URL(url).protocol === "https:" || policy.allowInsecureBmc) return undefined;
  return `${owner}: BMC endpoint ${new URL(url).host} is plain http, which would send its credentials unencrypted; use https, or start the operator with --allow-insecure-bmc`;
}
