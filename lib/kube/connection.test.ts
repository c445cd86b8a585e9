import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import { CREDENTIALS_TTL_MS, connectionFor } from "./connection.ts";

function kubeconfig(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", skipTLSVerify: true }],
    users: [{ name: "u", token }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

describe("a kubeconfig's connection", () => {
  it("asks for credentials at most once a second, however many requests, and keeps one connection pool", async () => {
    const kc = kubeconfig("t1");
    const asked = vi.spyOn(kc, "applySecurityAuthentication");
    let now = 10_000;
    const server = "https://127.0.0.1:6443";
    const first = await Promise.all(Array.from({ length: 20 }, () => connectionFor(kc, server, () => now)));
    for (let i = 0; i < 20; i++) {
      now += 10;
      await connectionFor(kc, server, () => now);
    }
    expect(asked).toHaveBeenCalledTimes(1);
    expect(first[0]?.headers.Authorization).toBe("Bearer t1");
    expect(first[0]?.dispatcher).toBeDefined();

    // The token rotates (a token file, an exec plugin): in use once the second is up.
    (kc.getCurrentUser() as { token?: string }).token = "t2";
    expect((await connectionFor(kc, server, () => now)).headers.Authorization).toBe("Bearer t1");
    now += CREDENTIALS_TTL_MS;
    const rotated = await connectionFor(kc, server, () => now);
    expect(asked).toHaveBeenCalledTimes(2);
    expect(rotated.headers.Authorization).toBe("Bearer t2");
    expect(rotated.dispatcher).toBe(first[0]?.dispatcher);
  });

  it("keeps connections of different kubeconfigs apart", async () => {
    const [a, b] = [kubeconfig("a"), kubeconfig("b")];
    const server = "https://127.0.0.1:6443";
    const [ca, cb] = [await connectionFor(a, server), await connectionFor(b, server)];
    expect(ca.headers.Authorization).toBe("Bearer a");
    expect(cb.headers.Authorization).toBe("Bearer b");
    expect(ca.dispatcher).not.toBe(cb.dispatcher);
  });
});
