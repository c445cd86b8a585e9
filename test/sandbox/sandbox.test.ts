/** README's first command, run as written: the sandbox comes up, its example pool becomes Ready, it cleans up. */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_DIR } from "../harness/control-plane.ts";

describe("bash hack/sandbox.sh", () => {
  it("brings the example pool to Ready and leaves nothing behind", () => {
    const leftovers = (): string[] => readdirSync(tmpdir()).filter((f) => /^metalpool-(cp|op)-/.test(f));
    const before = leftovers();
    const run = spawnSync("bash", [join(REPO_DIR, "hack/sandbox.sh"), "--check", "--timeout", "120"], {
      encoding: "utf8",
      timeout: 240_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(run.stdout).toContain("sandbox check: the example pool is Ready");
    expect(run.stdout).toMatch(/desired=3 ready=3 .*Ready=True\(AllReady\)/);
    expect(run.status).toBe(0);
    expect(leftovers().filter((f) => !before.includes(f))).toEqual([]);
  }, 300_000);
});
