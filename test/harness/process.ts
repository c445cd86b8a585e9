/**
 * Child processes for the test harness that never outlive the test run: each runs under a small shell
 * tether that kills it when our stdin pipe closes, which happens even if the test process is SIGKILLed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { once } from "node:events";

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** SIGTERM, wait up to graceMs, then SIGKILL. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

const TETHER = [
  "exec 3<&0",
  '"$@" 0</dev/null &',
  "child=$!",
  '( read -r _ <&3; kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null ) &',
  "trap 'kill -TERM \"$child\" 2>/dev/null' TERM INT",
  'wait "$child"; rc=$?; wait "$child" 2>/dev/null; exit $rc',
].join("\n");

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  const child = spawn("bash", ["-c", TETHER, "tether", command, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  const log = createWriteStream(opts.logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let gone = false;
  const exit = once(child, "exit").then(() => {
    gone = true;
  });
  return {
    name,
    child,
    exited: () => gone,
    async stop(graceMs = 15_000): Promise<void> {
      if (gone) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        child.stdin?.end();
        child.kill("SIGKILL");
      }, graceMs);
      await exit;
      clearTimeout(timer);
      child.stdin?.end();
    },
  };
}
