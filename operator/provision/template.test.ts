import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema } from "../../lib/api/baremetalpool.ts";
import { IMAGES, buildProvisionTemplate, buildWipeTemplate } from "./template.ts";

const spec = baremetalPoolSpecSchema.parse({
  replicas: 1,
  template: { osImageURL: "http://images.test/u.raw.gz", kubeletVersion: "1.33.4" },
});

/** What tink-controller's Go templating makes of the expressions, for a Hardware with multi-line user data. */
function render(data: string): string {
  return data
    .replaceAll(
      "{{ .Hardware.UserData | toJson }}",
      JSON.stringify('#cloud-config\nruncmd: ["echo \\"hi\\""]\n'),
    )
    .replace(/\{\{[^}]*\}\}/g, "x");
}

describe("generated Templates", () => {
  it("name only pinned images, never :latest", () => {
    const templates = [
      buildProvisionTemplate("p", "ns", spec, 2700),
      buildWipeTemplate("ns", "Metadata", 600),
      buildWipeTemplate("ns", "Full", 600),
    ];
    const images = templates.flatMap(
      (t) =>
        (
          parse(render(t.spec.data ?? "")) as { tasks: { actions: { image: string }[] }[] }
        ).tasks[0]?.actions.map((a) => a.image) ?? [],
    );
    expect(images).toHaveLength(11); // 7 provisioning actions, 2 per wipe
    for (const image of images) {
      expect(image).toMatch(/:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
      expect(Object.values(IMAGES)).toContain(image);
    }
  });

  it("keeps user data one YAML string, whatever lines and quotes it holds", () => {
    const t = parse(render(buildProvisionTemplate("p", "ns", spec, 2700).spec.data ?? "")) as {
      tasks: { actions: { name: string; environment?: Record<string, string> }[] }[];
    };
    const userData = t.tasks[0]?.actions.find((a) => a.name === "write-cloud-init-user-data");
    expect(userData?.environment?.CONTENTS).toBe('#cloud-config\nruncmd: ["echo \\"hi\\""]\n');
  });
});
