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
  /** Sends a signal to the program itself (not its tether): SIGKILL is how tests simulate a crash. */
  signal(sig: "SIGTERM" | "SIGKILL"): void;
  /** The program's own exit code once it is gone (137 after SIGKILL). */
  exitCode(): Promise<number | null>;
  exited(): boolean;
}

const TETHER = [
  "exec 3<&0",
  '"$@" 0</dev/null &',
  "child=$!",
  '( read -r _ <&3; kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null ) &',
  "trap 'kill -TERM \"$child\" 2>/dev/null' TERM INT",
  // SIGKILL cannot be forwarded, so USR1 asks the tether to deliver it.
  "trap 'kill -KILL \"$child\" 2>/dev/null' USR1",
  // A trapped signal interrupts `wait` with 128+n; the second wait then yields the child's own exit code
  // (bash keeps it even if the child is gone), or 127 when the first wait already reported it.
  'wait "$child"; rc=$?',
  'wait "$child" 2>/dev/null; again=$?',
  '[ "$again" != 127 ] && rc=$again',
  "exit $rc",
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
  const exit = once(child, "exit").then(([code]) => {
    gone = true;
    return code as number | null;
  });
  return {
    name,
    child,
    exited: () => gone,
    exitCode: () => exit,
    signal: (sig) => {
      child.kill(sig === "SIGKILL" ? "SIGUSR1" : sig);
    },
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
