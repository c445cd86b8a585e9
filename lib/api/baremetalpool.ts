/**
 * The BaremetalPool API (metalpool.io/v1alpha1). This zod schema is the single source of truth:
 * the TypeScript types are inferred from it and crds/metalpool.io_baremetalpools.yaml is generated
 * from it (`npm run gen:crds`); a test fails if the committed CRD drifts from this file.
 * CEL rules (`x-kubernetes-validations`) ride along as metadata so the API server itself rejects
 * a bad spec with a message that says what to fix.
 */
import { z } from "zod";
import type { KubeObject, ResourceType } from "../kube/rest.ts";

export const GROUP = "metalpool.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "BaremetalPool";
export const PLURAL = "baremetalpools";

type Rule = { rule: string; message: string; reason?: string; fieldPath?: string };
const cel = (...rules: Rule[]): { "x-kubernetes-validations": Rule[] } => ({
  "x-kubernetes-validations": rules,
});

const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
  )
  .describe("A Kubernetes label key, e.g. topology.kubernetes.io/zone.");
const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
const quantity = z
  .string()
  .max(32)
  .meta(cel({ rule: "isQuantity(self)", message: "must be a Kubernetes quantity such as 64Gi or 500G" }));
const duration = z
  .string()
  .max(32)
  .meta(
    cel(
      {
        rule: "self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')",
        message: "must be a duration such as 45m or 1h30m",
      },
      {
        rule: "!self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || duration(self) >= duration('1m')",
        message: "must be at least 1m",
      },
    ),
  );
const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

export const labelSelectorRequirementSchema = z
  .object({
    key: labelKey,
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: z.array(labelValue).max(64).optional(),
  })
  .meta(
    cel(
      {
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        message: "operator In and NotIn need at least one value",
      },
      {
        rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
        message: "operator Exists and DoesNotExist take no values",
      },
    ),
  );

export const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), labelValue).optional(),
    matchExpressions: z.array(labelSelectorRequirementSchema).max(32).optional(),
  })
  .describe("A label selector over Hardware objects, as in any Kubernetes workload.");

export const requirementsSchema = z
  .object({
    arch: z.enum(["x86_64", "aarch64"]).optional().describe("CPU architecture the server must have."),
    uefi: z.boolean().optional().describe("true: UEFI firmware only; false: legacy BIOS only."),
    minCPUs: z.int().min(1).max(4096).optional().describe("Minimum CPU cores (from BMC inventory)."),
    minMemory: quantity.optional().describe("Minimum memory, e.g. 64Gi (from BMC inventory)."),
    minDisks: z.int().min(1).max(256).optional().describe("Minimum number of disks."),
    minDiskSize: quantity.optional().describe("Every counted disk must be at least this large, e.g. 200G."),
  })
  .describe(
    "Hard requirements matched against Hardware labels and inventory. A server that lacks an inventory value does not match a requirement on it.",
  );

export const preferenceSchema = z.object({
  weight: z.int().min(1).max(100),
  selector: labelSelectorSchema,
});

const secretKeyRef = z.object({
  name: objectName,
  namespace: objectName.optional().describe("Defaults to the pool's namespace."),
  key: z.string().min(1).max(253).default("kubeconfig"),
});

export const taintSchema = z.object({
  key: labelKey,
  value: labelValue.optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});

export const machineTemplateSchema = z
  .object({
    cluster: z
      .object({
        kubeconfigSecretRef: secretKeyRef
          .optional()
          .describe("Kubeconfig of the cluster where MachineDeployments are created. Default: this cluster."),
        namespace: objectName
          .optional()
          .describe(
            "Namespace for MachineDeployments. Default: the pool's namespace (kube-system for KKP user clusters).",
          ),
        clusterName: z
          .string()
          .min(1)
          .max(63)
          .optional()
          .describe("Passed to the tinkerbell driver as clusterName. Default: the pool's name."),
      })
      .default({}),
    tinkerbellKubeconfigSecretRef: secretKeyRef
      .optional()
      .describe("Kubeconfig machine-controller uses to reach this Tinkerbell cluster (driverSpec.auth)."),
    operatingSystem: z.enum(["ubuntu"]).default("ubuntu"),
    operatingSystemProfile: z.string().min(1).max(253).default("osp-ubuntu"),
    osImageURL: z
      .string()
      .max(2048)
      .meta(
        cel({
          rule: "isURL(self) && url(self).getScheme() in ['http', 'https']",
          message: "must be an http(s) URL of a raw or qcow2 OS image",
        }),
      ),
    kubeletVersion: z
      .string()
      .regex(/^v?[0-9]+\.[0-9]+\.[0-9]+$/)
      .describe("Kubelet version for the node, e.g. 1.33.4."),
    nodeLabels: z.record(labelKey, labelValue).optional(),
    nodeTaints: z.array(taintSchema).max(32).optional(),
    sshPublicKeys: z.array(z.string().min(1).max(16384)).max(32).optional(),
    providerSpecExtra: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ "x-kubernetes-preserve-unknown-fields": true })
      .describe(
        "Extra top-level providerSpec.value fields, merged in verbatim (machine-controller parses them strictly).",
      ),
  })
  .describe("What every MachineDeployment of this pool gets.");

export const provisioningSchema = z
  .object({
    workflowOwner: z
      .enum(["MachineController", "Operator"])
      .default("MachineController")
      .describe(
        "MachineController: machine-controller creates Template and Workflow (as in KKP). Operator: metalpool does.",
      ),
    templateRef: objectName
      .optional()
      .describe(
        "With workflowOwner Operator: a Tinkerbell Template in the pool's namespace to use instead of the generated one.",
      ),
    power: z
      .enum(["TinkerbellBMC", "Redfish", "Manual"])
      .default("TinkerbellBMC")
      .describe(
        "How a claimed server is PXE-booted: Tinkerbell bmc Jobs (rufio), direct Redfish, or by a person.",
      ),
    attemptTimeout: duration.default("45m").describe("How long one provisioning attempt may take."),
    maxAttempts: z.int().min(1).max(10).default(3).describe("Attempts before the server is quarantined."),
    maxConcurrent: z.int().min(1).max(100).default(10).describe("Members provisioning at the same time."),
    wipeMode: z
      .enum(["None", "Metadata", "Full"])
      .default("Metadata")
      .describe(
        "What is wiped when a server leaves the pool: nothing, partition tables and signatures, or every block.",
      ),
  })
  .default({
    workflowOwner: "MachineController",
    power: "TinkerbellBMC",
    attemptTimeout: "45m",
    maxAttempts: 3,
    maxConcurrent: 10,
    wipeMode: "Metadata",
  })
  .meta(
    cel({
      rule: "!has(self.templateRef) || self.workflowOwner == 'Operator'",
      message: "templateRef needs workflowOwner: Operator (machine-controller always uses its own template)",
      fieldPath: ".templateRef",
    }),
  );

export const baremetalPoolSpecSchema = z
  .object({
    replicas: z.int().min(0).max(10000).describe("Desired number of provisioned servers (worker nodes)."),
    paused: z.boolean().default(false).describe("Stop all changes; status is still reported."),
    hardwareSelector: labelSelectorSchema.default({}),
    requirements: requirementsSchema.optional(),
    preferences: z.array(preferenceSchema).max(32).optional(),
    spreadKey: labelKey
      .optional()
      .describe(
        "Hardware label naming the failure domain (e.g. rack or zone); claims are spread across its values.",
      ),
    template: machineTemplateSchema,
    provisioning: provisioningSchema,
  })
  .describe("Desired state of a pool of bare-metal servers.");

export const memberPhases = [
  "Claimed",
  "Provisioning",
  "Ready",
  "Deprovisioning",
  "Released",
  "Failed",
  "Quarantined",
] as const;
export type MemberPhase = (typeof memberPhases)[number];

export const conditionSchema = z.object({
  type: z.string().max(316),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().max(1024),
  message: z.string().max(32768),
  lastTransitionTime: z.string(),
  observedGeneration: z.int().min(0).optional(),
});

export const memberSchema = z.object({
  hardware: z.string(),
  machineDeployment: z.string().optional(),
  phase: z.enum(memberPhases),
  since: z.string(),
  attempts: z.int().min(0).default(0),
  lastError: z.string().max(4096).optional(),
});

export const baremetalPoolStatusSchema = z.object({
  observedGeneration: z.int().min(0).optional(),
  replicas: z.int().min(0).default(0),
  readyReplicas: z.int().min(0).default(0),
  provisioningReplicas: z.int().min(0).default(0),
  failedReplicas: z.int().min(0).default(0),
  availableHardware: z.int().min(0).default(0),
  conditions: z.array(conditionSchema).optional(),
  members: z.array(memberSchema).optional(),
});

export const conditionTypes = ["Ready", "Progressing", "Degraded", "HardwareShortage"] as const;
export type ConditionType = (typeof conditionTypes)[number];

export type BaremetalPoolSpec = z.output<typeof baremetalPoolSpecSchema>;
export type BaremetalPoolSpecInput = z.input<typeof baremetalPoolSpecSchema>;
export type BaremetalPoolStatus = z.output<typeof baremetalPoolStatusSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type Member = z.output<typeof memberSchema>;
export type LabelSelector = z.output<typeof labelSelectorSchema>;
export type Requirements = z.output<typeof requirementsSchema>;

/** A BaremetalPool as the API server returns it. */
export interface BaremetalPool extends KubeObject {
  spec: BaremetalPoolSpec;
  status?: BaremetalPoolStatus;
}

export const POOL: ResourceType = {
  group: GROUP,
  version: VERSION,
  plural: PLURAL,
  kind: KIND,
  namespaced: true,
};

/** What children of a pool record about it: its name for humans, its UID as the claim. */
export interface PoolRef {
  name: string;
  namespace: string;
  uid: string;
}

export function poolRef(pool: KubeObject): PoolRef {
  return {
    name: pool.metadata.name ?? "",
    namespace: pool.metadata.namespace ?? "",
    uid: pool.metadata.uid ?? "",
  };
}
