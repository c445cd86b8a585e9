/**
 * Turns the zod schemas of lib/api into a CustomResourceDefinition. zod emits JSON Schema; a CRD needs a
 * *structural* OpenAPI v3 schema, so this strips what the API server rejects (additionalProperties:false
 * beside properties, propertyNames, $schema) and keeps our x-kubernetes-* metadata.
 */
import { z } from "zod";
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  baremetalPoolSpecSchema,
  baremetalPoolStatusSchema,
} from "./baremetalpool.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DROPPED_KEYS = new Set(["$schema", "propertyNames", "id"]);

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Makes one zod-emitted JSON Schema node structural, recursively. */
export function toStructural(node: Json): Json {
  if (Array.isArray(node)) return node.map(toStructural);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === "additionalProperties" && value === false) continue;
    // zod's safe-integer bounds are noise in a CRD and overflow int64 validation messages.
    if ((key === "minimum" || key === "maximum") && typeof value === "number" && Math.abs(value) > 2 ** 52)
      continue;
    out[key] = toStructural(value);
  }
  if (out["x-kubernetes-preserve-unknown-fields"] === true) {
    delete out.additionalProperties;
    out.type = "object";
  }
  return out;
}

function schemaOf(schema: z.ZodType): JsonObject {
  const raw = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "any" }) as Json;
  const structural = toStructural(raw);
  if (!isObject(structural)) throw new Error("schema did not convert to an object");
  return structural;
}

export function baremetalPoolCrd(): JsonObject {
  const printerColumn = (name: string, jsonPath: string, type = "integer", priority = 0): JsonObject => ({
    name,
    type,
    jsonPath,
    ...(priority ? { priority } : {}),
  });
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: "baremetalpool",
        shortNames: ["bmp"],
        categories: ["metalpool"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            printerColumn("Desired", ".spec.replicas"),
            printerColumn("Ready", ".status.readyReplicas"),
            printerColumn("Provisioning", ".status.provisioningReplicas"),
            printerColumn("Failed", ".status.failedReplicas"),
            printerColumn("Available", ".status.availableHardware"),
            printerColumn("Status", '.status.conditions[?(@.type=="Ready")].reason', "string"),
            printerColumn("Paused", ".spec.paused", "boolean", 1),
            printerColumn("Age", ".metadata.creationTimestamp", "date"),
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: `${KIND} (${API_VERSION}) keeps a number of bare-metal servers provisioned as Kubernetes workers.`,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: schemaOf(baremetalPoolSpecSchema),
                status: schemaOf(baremetalPoolStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}
