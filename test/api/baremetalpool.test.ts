/**
 * The BaremetalPool CRD against the real API server: what it accepts, what it defaults, what it rejects and
 * with which message. The rejection messages are part of the user interface, so they are asserted exactly.
 */
import { readFileSync } from "node:fs";
import { ApiException, type CustomObjectsApi } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { API_VERSION, GROUP, PLURAL, VERSION, baremetalPoolSpecSchema } from "../../lib/api/baremetalpool.ts";
import { CHART_CRD_FILE, CRD_FILE, renderCrds } from "../../hack/gen-crds.ts";
import { REPO_DIR } from "../harness/control-plane.ts";
import { createNamespace, testClients } from "../harness/kube.ts";

const minimalSpec = {
  replicas: 2,
  template: { osImageURL: "http://images.example/ubuntu-24.04.raw.gz", kubeletVersion: "1.33.4" },
};

type Spec = Record<string, unknown>;
let custom: CustomObjectsApi;
let namespace: string;
let seq = 0;

async function createPool(spec: Spec): Promise<{ spec: Spec }> {
  seq += 1;
  return (await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: "BaremetalPool", metadata: { name: `pool-${seq}` }, spec },
  })) as { spec: Spec };
}

async function rejection(spec: Spec): Promise<{ code: number; message: string }> {
  try {
    await createPool(spec);
  } catch (err) {
    if (err instanceof ApiException) {
      const body = (typeof err.body === "string" ? JSON.parse(err.body) : err.body) as { message: string };
      return { code: err.code, message: body.message };
    }
    throw err;
  }
  throw new Error("the API server accepted an invalid pool");
}

const withTemplate = (extra: Spec): Spec => ({
  ...minimalSpec,
  template: { ...minimalSpec.template, ...extra },
});

beforeAll(async () => {
  const clients = testClients();
  custom = clients.custom;
  namespace = await createNamespace(clients.core, "api");
});

describe("the committed CRD", () => {
  it("is exactly what lib/api generates, so types and CRD cannot drift", () => {
    expect(readFileSync(`${REPO_DIR}/${CRD_FILE}`, "utf8")).toBe(renderCrds());
  });

  it("is the same in the Helm chart", () => {
    expect(readFileSync(`${REPO_DIR}/${CHART_CRD_FILE}`, "utf8")).toBe(renderCrds());
  });
});

describe("a valid BaremetalPool", () => {
  it("is accepted with the documented defaults filled in by the API server", async () => {
    const created = await createPool(minimalSpec);
    expect(created.spec).toEqual({
      replicas: 2,
      paused: false,
      hardwareSelector: {},
      template: {
        cluster: {},
        operatingSystem: "ubuntu",
        operatingSystemProfile: "osp-ubuntu",
        osImageURL: "http://images.example/ubuntu-24.04.raw.gz",
        kubeletVersion: "1.33.4",
      },
      provisioning: {
        workflowOwner: "MachineController",
        power: "TinkerbellBMC",
        attemptTimeout: "45m",
        maxAttempts: 3,
        maxConcurrent: 10,
        wipeMode: "Metadata",
      },
    });
  });

  it("round-trips through the TypeScript schema unchanged (server defaults equal zod defaults)", async () => {
    const full: Spec = {
      replicas: 3,
      paused: true,
      hardwareSelector: {
        matchLabels: { "metalpool.io/class": "compute" },
        matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["a", "b"] }],
      },
      requirements: {
        arch: "x86_64",
        uefi: true,
        minCPUs: 16,
        minMemory: "64Gi",
        minDisks: 2,
        minDiskSize: "500G",
      },
      preferences: [{ weight: 50, selector: { matchLabels: { "metalpool.io/gen": "g2" } } }],
      spreadKey: "metalpool.io/rack",
      template: {
        cluster: {
          kubeconfigSecretRef: { name: "user-cluster" },
          namespace: "kube-system",
          clusterName: "prod",
        },
        tinkerbellKubeconfigSecretRef: { name: "tink", namespace: "tink-system" },
        osImageURL: "https://images.example/ubuntu.raw.gz",
        kubeletVersion: "v1.33.4",
        nodeLabels: { "node-role.kubernetes.io/worker": "" },
        nodeTaints: [{ key: "dedicated", value: "metal", effect: "NoSchedule" }],
        sshPublicKeys: ["ssh-ed25519 AAAA test"],
        providerSpecExtra: { network: { cidr: "10.1.0.0/24" } },
      },
      provisioning: {
        workflowOwner: "Operator",
        templateRef: "my-template",
        power: "Redfish",
        attemptTimeout: "1h30m",
        maxAttempts: 5,
        maxConcurrent: 20,
        wipeMode: "Full",
      },
    };
    const created = await createPool(full);
    expect(baremetalPoolSpecSchema.parse(created.spec)).toEqual(created.spec);
    const minimal = await createPool(minimalSpec);
    expect(baremetalPoolSpecSchema.parse(minimalSpec)).toEqual(minimal.spec);
  });
});

describe("an invalid BaremetalPool is rejected by the API server with a message that says what to fix", () => {
  const cases: [string, Spec, string][] = [
    [
      "negative replicas",
      { ...minimalSpec, replicas: -1 },
      "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
    ],
    ["a missing template", { replicas: 1 }, "spec.template: Required value"],
    [
      "a missing image URL",
      { replicas: 1, template: { kubeletVersion: "1.33.4" } },
      "spec.template.osImageURL: Required value",
    ],
    [
      "an image URL that is not http(s)",
      withTemplate({ osImageURL: "ftp://x/y.raw" }),
      'spec.template.osImageURL: Invalid value: "string": must be an http(s) URL of a raw or qcow2 OS image',
    ],
    [
      "a malformed kubelet version",
      withTemplate({ kubeletVersion: "latest" }),
      'spec.template.kubeletVersion: Invalid value: "latest"',
    ],
    [
      "an unsupported operating system",
      withTemplate({ operatingSystem: "windows" }),
      'spec.template.operatingSystem: Unsupported value: "windows": supported values: "ubuntu"',
    ],
    [
      "a memory that is not a quantity",
      { ...minimalSpec, requirements: { minMemory: "lots" } },
      'spec.requirements.minMemory: Invalid value: "string": must be a Kubernetes quantity such as 64Gi or 500G',
    ],
    [
      "an unknown architecture",
      { ...minimalSpec, requirements: { arch: "sparc" } },
      'spec.requirements.arch: Unsupported value: "sparc"',
    ],
    [
      "In without values",
      { ...minimalSpec, hardwareSelector: { matchExpressions: [{ key: "rack", operator: "In" }] } },
      'spec.hardwareSelector.matchExpressions[0]: Invalid value: "object": operator In and NotIn need at least one value',
    ],
    [
      "Exists with values",
      {
        ...minimalSpec,
        hardwareSelector: { matchExpressions: [{ key: "rack", operator: "Exists", values: ["a"] }] },
      },
      'spec.hardwareSelector.matchExpressions[0]: Invalid value: "object": operator Exists and DoesNotExist take no values',
    ],
    [
      "a templateRef while machine-controller owns workflows",
      { ...minimalSpec, provisioning: { templateRef: "t" } },
      'spec.provisioning.templateRef: Invalid value: "object": templateRef needs workflowOwner: Operator (machine-controller always uses its own template)',
    ],
    [
      "an unparseable attempt timeout",
      { ...minimalSpec, provisioning: { attemptTimeout: "soon" } },
      'spec.provisioning.attemptTimeout: Invalid value: "string": must be a duration such as 45m or 1h30m',
    ],
    [
      "an attempt timeout under a minute",
      { ...minimalSpec, provisioning: { attemptTimeout: "30s" } },
      'spec.provisioning.attemptTimeout: Invalid value: "string": must be at least 1m',
    ],
    [
      "zero attempts",
      { ...minimalSpec, provisioning: { maxAttempts: 0 } },
      "spec.provisioning.maxAttempts: Invalid value: 0: spec.provisioning.maxAttempts in body should be greater than or equal to 1",
    ],
    [
      "an unknown wipe mode",
      { ...minimalSpec, provisioning: { wipeMode: "Shred" } },
      'spec.provisioning.wipeMode: Unsupported value: "Shred": supported values: "None", "Metadata", "Full"',
    ],
    [
      "an unknown power mode",
      { ...minimalSpec, provisioning: { power: "IPMI" } },
      'spec.provisioning.power: Unsupported value: "IPMI": supported values: "TinkerbellBMC", "Redfish", "Manual"',
    ],
    [
      "a bad spread key",
      { ...minimalSpec, spreadKey: "not a key" },
      'spec.spreadKey: Invalid value: "not a key"',
    ],
    [
      "a taint with an unknown effect",
      withTemplate({ nodeTaints: [{ key: "k", effect: "Sometimes" }] }),
      'spec.template.nodeTaints[0].effect: Unsupported value: "Sometimes"',
    ],
    [
      "a preference weight over 100",
      { ...minimalSpec, preferences: [{ weight: 101, selector: {} }] },
      "spec.preferences[0].weight: Invalid value: 101: spec.preferences[0].weight in body should be less than or equal to 100",
    ],
  ];

  it.each(cases)("rejects %s", async (_name, spec, expected) => {
    const { code, message } = await rejection(spec);
    expect(code).toBe(422);
    expect(message).toContain(expected);
  });
});
