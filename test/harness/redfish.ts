/**
 * A real Redfish service for tests: sushy-tools' emulator (OpenStack, from PyPI, installed by
 * hack/install-python-tools.sh) with its fake driver, on loopback, behind basic auth (bcrypt htpasswd),
 * optionally over TLS with a throwaway CA. Power and boot changes are also PUT to a notifier URL, which the
 * harness records (and hands to `onNotify`): that is how a test sees what the BMC was told to do, and how
 * a harness makes a power change real (test/harness/provisioning-lab.ts starts and stops a VM).
 * `host` is where it listens (loopback unless a test network's programs must reach it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { REPO_DIR } from "./control-plane.ts";
import { freePort, waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface FakeSystem {
  uuid: string;
  name: string;
  powerState?: "On" | "Off";
  nics?: { mac: string; ip?: string }[];
  drives?: { id: string; sizeBytes: number; mediaType: "HDD" | "SSD" }[];
}

export interface RedfishNotification {
  power_state?: string;
  pending_power?: { power_state?: string; apply_time?: number };
  boot_device?: string;
  boot_mode?: string;
  uuid?: string;
  name?: string;
}

export interface RedfishEmulator {
  url: string;
  username: string;
  password: string;
  /** PEM of the CA that signed the emulator's certificate (TLS only). */
  ca?: string;
  /** Every notification the emulator sent: the whole system after each change. */
  notifications: RedfishNotification[];
  stop(): Promise<void>;
}

function venvBin(): string {
  return execFileSync("bash", [join(REPO_DIR, "hack/install-python-tools.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

function makeTls(dir: string): { cert: string; key: string; ca: string } {
  const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=metalpool test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "bmc.key",
    "-out",
    "bmc.csr",
  );
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  run(
    "x509",
    "-req",
    "-in",
    "bmc.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "san.ext",
    "-out",
    "bmc.pem",
  );
  return {
    cert: join(dir, "bmc.pem"),
    key: join(dir, "bmc.key"),
    ca: execFileSync("cat", [join(dir, "ca.pem")], { encoding: "utf8" }),
  };
}

export async function startRedfishEmulator(
  systems: FakeSystem[],
  opts: {
    tls?: boolean;
    password?: string;
    host?: string;
    onNotify?: (n: RedfishNotification) => void;
  } = {},
): Promise<RedfishEmulator> {
  const dir = mkdtempSync(join(tmpdir(), "metalpool-redfish-"));
  const bin = venvBin();
  const username = "admin";
  const password = opts.password ?? "s3cr3t-Passw0rd!";
  const notifications: RedfishEmulator["notifications"] = [];
  const notifier: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      try {
        const notification = JSON.parse(body) as RedfishNotification;
        notifications.push(notification);
        opts.onNotify?.(notification);
      } catch {
        // not JSON: ignore
      }
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((resolve) => notifier.listen(0, "127.0.0.1", resolve));
  const notifierPort = (notifier.address() as { port: number }).port;
  const hash = execFileSync(
    join(bin, "python"),
    [
      "-c",
      "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt()).decode())",
      password,
    ],
    { encoding: "utf8" },
  ).trim();
  writeFileSync(join(dir, "htpasswd"), `${username}:${hash}\n`);
  const fake = systems.map((s) => ({
    uuid: s.uuid,
    name: s.name,
    power_state: s.powerState ?? "Off",
    external_notifier: true,
    nics: (s.nics ?? []).map((n) => ({ mac: n.mac, ip: n.ip ?? "" })),
  }));
  const storage = Object.fromEntries(
    systems
      .filter((s) => s.drives)
      .map((s) => [
        s.uuid,
        [
          {
            Id: "1",
            Name: "Local Storage Controller",
            StorageControllers: [],
            Drives: (s.drives ?? []).map((d) => d.id),
          },
        ],
      ]),
  );
  const drives = systems
    .filter((s) => s.drives)
    .map(
      (s) =>
        `(${JSON.stringify(s.uuid)}, "1"): ${JSON.stringify((s.drives ?? []).map((d) => ({ Id: d.id, Name: d.id, CapacityBytes: d.sizeBytes, MediaType: d.mediaType, Protocol: "SATA" })))}`,
    );
  const host = opts.host ?? "127.0.0.1";
  const port = await freePort(host);
  const tls = opts.tls ? makeTls(dir) : undefined;
  writeFileSync(
    join(dir, "emulator.conf"),
    [
      `SUSHY_EMULATOR_FAKE_SYSTEMS = ${JSON.stringify(fake).replace(/\btrue\b/g, "True")}`,
      `SUSHY_EMULATOR_STATE_DIR = ${JSON.stringify(join(dir, "state"))}`,
      `SUSHY_EMULATOR_AUTH_FILE = ${JSON.stringify(join(dir, "htpasswd"))}`,
      `EXTERNAL_NOTIFICATION_URL = "http://127.0.0.1:${notifierPort}/notify"`,
      `SUSHY_EMULATOR_STORAGE = ${JSON.stringify(storage)}`,
      `SUSHY_EMULATOR_DRIVES = {${drives.join(", ")}}`,
      "",
    ].join("\n"),
  );
  const proc: ManagedProcess = startProcess(
    "sushy-emulator",
    join(bin, "sushy-emulator"),
    [
      "--fake",
      "--config",
      join(dir, "emulator.conf"),
      "-i",
      host,
      "-p",
      String(port),
      ...(tls ? ["--ssl-certificate", tls.cert, "--ssl-key", tls.key] : []),
    ],
    { logFile: join(dir, "sushy.log") },
  );
  const url = `${tls ? "https" : "http"}://${host}:${port}`;
  // Readiness only: the probe does not care whose certificate it is (the tests check that themselves).
  const probe = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    await waitFor(
      "sushy-emulator",
      async () => {
        if (proc.exited()) throw new Error(`sushy-emulator exited; see ${join(dir, "sushy.log")}`);
        const res = await request(`${url}/redfish/v1/`, { dispatcher: probe });
        await res.body.text();
        return res.statusCode === 200 || res.statusCode === 401;
      },
      30_000,
    );
  } finally {
    await probe.close();
  }
  return {
    url,
    username,
    password,
    ...(tls ? { ca: tls.ca } : {}),
    notifications,
    stop: async () => {
      await proc.stop(5_000);
      await new Promise<void>((resolve) => notifier.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
