import { createHash } from "node:crypto";

/** A DNS-1123 name from parts, shortened with a stable hash suffix when it would exceed `max`. */
export function childName(max: number, ...parts: string[]): string {
  const full = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-");
  if (full.length <= max) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, max - 9).replace(/[-.]+$/, "")}-${hash}`;
}
