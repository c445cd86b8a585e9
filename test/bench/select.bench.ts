/** How long choosing servers takes for a large rack inventory (pure code; `npm run bench`). */
import { test } from "vitest";
import { baremetalPoolSpecSchema } from "../../lib/api/baremetalpool.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { chooseHardware, isEligible } from "../../operator/pool/select.ts";

const spec = baremetalPoolSpecSchema.parse({
  replicas: 100,
  hardwareSelector: { matchLabels: { class: "compute" } },
  requirements: { arch: "x86_64", minCPUs: 8, minMemory: "32Gi" },
  preferences: [{ weight: 10, selector: { matchLabels: { gen: "g2" } } }],
  spreadKey: "rack",
  template: { osImageURL: "http://x/y.raw", kubeletVersion: "1.33.4" },
});

const inventory: Hardware[] = Array.from({ length: 5000 }, (_, i) => ({
  metadata: {
    name: `server-${i}`,
    namespace: "tink",
    labels: {
      class: "compute",
      rack: `r${i % 40}`,
      gen: i % 3 ? "g1" : "g2",
      "metalpool.io/cpus": "32",
      "metalpool.io/memory-gib": "128",
    },
  },
  spec: {
    disks: [{ device: "/dev/sda" }],
    interfaces: [
      {
        dhcp: {
          mac: `52:54:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`,
          arch: "x86_64",
          ip: { address: "10.0.0.1", netmask: "255.255.0.0" },
        },
      },
    ],
  },
}));

test("selection over 5000 servers", async ({ bench }) => {
  await bench.compare(
    bench("filter eligible", () => {
      inventory.filter((hw) => isEligible(hw, spec));
    }),
    bench("choose 100 with preferences and rack spread", () => {
      chooseHardware(inventory, [], spec, 100);
    }),
  );
});
