/**
 * metalpool's own kubeconfig reader: what it reads from files, $KUBECONFIG lists, a Pod's service account
 * and exec plugins; what it refuses and how it says so; and that a client built on it talks to the real API
 * server (requests and a watch).
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  ClusterConfig,
  clusterConfigFromFile,
  clusterConfigFromString,
  defaultClusterConfig,
  inClusterConfig,
} from "../../lib/kube/kubeconfig.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";

const dir = (): string => mkdtempSync(join(tmpdir(), "metalpool-kubeconfig-"));

function config(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "ctx",
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    clusters: [{ name: "c", cluster: { server: "https://10.0.0.1:6443", ...cluster } }],
    users: [{ name: "u", user }],
  };
}

describe("metalpool's kubeconfig", () => {
  it("reads certificate files relative to the kubeconfig, inline data, and a token", async () => {
    const d = dir();
    writeFileSync(join(d, "ca.pem"), "CA");
    writeFileSync(join(d, "client.pem"), "CERT");
    writeFileSync(join(d, "client.key"), "KEY");
    const path = join(d, "config");
    writeFileSync(
      path,
      stringify(
        config(
          { token: "abc", "client-certificate": "client.pem", "client-key": "client.key" },
          { "certificate-authority": "ca.pem", "tls-server-name": "kubernetes" },
        ),
      ),
    );
    const kc = clusterConfigFromFile(path);
    expect(kc.server).toBe("https://10.0.0.1:6443");
    expect(kc.tls).toEqual({
      ca: "CA",
      cert: "CERT",
      key: "KEY",
      rejectUnauthorized: true,
      servername: "kubernetes",
    });
    expect((await kc.credentials()).headers).toEqual({ authorization: "Bearer abc" });

    const inline = clusterConfigFromString(
      stringify(
        config(
          { username: "a", password: "b" },
          {
            "certificate-authority-data": Buffer.from("CA2").toString("base64"),
            "insecure-skip-tls-verify": true,
          },
        ),
      ),
    );
    expect(inline.tls).toEqual({ ca: "CA2", rejectUnauthorized: false });
    expect((await inline.credentials()).headers.authorization).toBe(
      `Basic ${Buffer.from("a:b").toString("base64")}`,
    );
  });

  it("merges a $KUBECONFIG list as client-go does: the first to set a name or the current context wins; missing files are skipped", () => {
    const d = dir();
    const first = join(d, "first");
    const second = join(d, "second");
    writeFileSync(first, stringify({ clusters: [{ name: "c", cluster: { server: "https://first:6443" } }] }));
    writeFileSync(second, stringify(config({ token: "t" }, { server: "https://second:6443" })));
    const kc = defaultClusterConfig({ KUBECONFIG: [join(d, "absent"), first, second].join(":") });
    expect(kc.server).toBe("https://first:6443");
    expect(() => defaultClusterConfig({ KUBECONFIG: join(d, "absent") })).toThrow(/no kubeconfig found/);
  });

  it("in a Pod, reads the service account and re-reads its token, which the kubelet rotates", async () => {
    const d = dir();
    writeFileSync(join(d, "ca.crt"), "CA");
    writeFileSync(join(d, "token"), "one\n");
    let now = 1_000_000;
    const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
    const base = inClusterConfig(env, d);
    expect(base.server).toBe("https://[fd00::1]:443");
    // The same configuration with a clock the test moves.
    const kc = new ClusterConfig(
      {
        server: base.server,
        tls: base.tls,
        contextName: "in-cluster",
        auth: { kind: "tokenFile", path: join(d, "token") },
      },
      () => now,
    );
    expect((await kc.credentials()).headers.authorization).toBe("Bearer one");
    writeFileSync(join(d, "token"), "two\n");
    expect((await kc.credentials()).headers.authorization).toBe("Bearer one");
    now += 61_000;
    expect((await kc.credentials()).headers.authorization).toBe("Bearer two");
    expect(() => inClusterConfig({}, d)).toThrow(/KUBERNETES_SERVICE_HOST/);
  });

  it("runs an exec plugin once per credential lifetime, and says which plugin failed", async () => {
    const d = dir();
    const counter = join(d, "runs");
    const plugin = join(d, "plugin.sh");
    writeFileSync(
      plugin,
      `#!/bin/sh\necho run >> ${counter}\ncase "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) exit 3 ;; esac\n` +
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$TOKEN"'","expirationTimestamp":"2999-01-01T00:00:00Z"}}'\n`,
    );
    chmodSync(plugin, 0o755);
    const kc = clusterConfigFromString(
      stringify(
        config({
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: plugin,
            env: [{ name: "TOKEN", value: "from-exec" }],
          },
        }),
      ),
    );
    const all = await Promise.all([kc.credentials(), kc.credentials(), kc.credentials()]);
    expect(all.map((c) => c.headers.authorization)).toEqual(Array(3).fill("Bearer from-exec"));
    await kc.credentials();
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(counter, "utf8").trim().split("\n")).toHaveLength(1);

    const broken = clusterConfigFromString(
      stringify(config({ exec: { command: join(d, "missing-plugin") } })),
    );
    await expect(broken.credentials()).rejects.toThrow(/exec credential plugin .*missing-plugin failed/);
  });

  it("refuses what it does not support, and never echoes the text of a kubeconfig that does not parse", () => {
    expect(() => clusterConfigFromString(stringify(config({ "auth-provider": { name: "oidc" } })))).toThrow(
      /auth-provider "oidc".*use an exec plugin/,
    );
    expect(() =>
      clusterConfigFromString(stringify(config({ token: "t" }, { "proxy-url": "http://p:3128" }))),
    ).toThrow(/proxy-url/);
    expect(() =>
      clusterConfigFromString(stringify(config({ "client-certificate-data": "Q0VSVA==" }))),
    ).toThrow(/without its key/);
    expect(() => clusterConfigFromString(stringify({ ...config({}), "current-context": "other" }))).toThrow(
      /no context named "other"/,
    );
    let message = "";
    try {
      clusterConfigFromString("users:\n- password: hunter2\n  {{ not: [yaml");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/not valid YAML/);
    expect(message).not.toContain("hunter2");
  });

  it("serves requests and watches against the real API server", async () => {
    const kc = clusterConfigFromFile(kubeconfigPath());
    const ns = await createNamespace(testKubeConfig().makeApiClient(CoreV1Api), "kubeconfig");
    const client = new KubeClient(kc);
    const seen: string[] = [];
    const controller = new AbortController();
    const list = await client.request<{ metadata: { resourceVersion: string } }>(
      "GET",
      `/api/v1/namespaces/${ns}/configmaps`,
    );
    const watching = client.watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 30 },
      (type, obj) => {
        seen.push(`${type} ${(obj as { metadata: { name: string } }).metadata.name}`);
        if (seen.length === 2) controller.abort();
      },
      controller.signal,
    );
    for (const name of ["a", "b"])
      await client.request("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name } });
    await watching;
    expect(seen).toEqual(["ADDED a", "ADDED b"]);
  });
});
