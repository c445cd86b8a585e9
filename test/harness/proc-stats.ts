/**
 * What a child process costs, read from /proc (Linux): resident memory and CPU time. Harness processes run
 * under a bash tether (process.ts), so the program itself is found among the tether's children.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return ""; // gone meanwhile
  }
}

/** The first descendant of `pid` whose command line contains `needle` (breadth first), or undefined. */
export function findDescendant(pid: number, needle: string): number | undefined {
  const queue = childrenOf(pid);
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    // The tether itself carries the program's arguments; the program is the one not run by bash.
    const line = cmdline(next);
    if (line.includes(needle) && !line.startsWith("bash ")) return next;
    queue.push(...childrenOf(next));
  }
  return undefined;
}

/** VmRSS of a process, in bytes. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

let ticksPerSecond: number | undefined;

/** User + system CPU time a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Samples a process's RSS every `everyMs`, keeping the peak. */
export class RssSampler {
  peakBytes = 0;
  lastBytes = 0;
  private readonly pid: number;
  private readonly timer: NodeJS.Timeout;
  constructor(pid: number, everyMs = 1000) {
    this.pid = pid;
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): number {
    try {
      this.lastBytes = rssBytes(this.pid);
      this.peakBytes = Math.max(this.peakBytes, this.lastBytes);
    } catch {
      // the process is gone; keep what was seen
    }
    return this.lastBytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
