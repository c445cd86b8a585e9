/** Runs one of our programs (operator or discovery) from source as a child process, with its log kept aside. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_DIR } from "./control-plane.ts";
import { waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface ProgramProcess extends ManagedProcess {
  logFile: string;
  /** Reads a field of the first JSON log line with this message (e.g. a port the kernel chose). */
  logged<T>(msg: string, field: string): Promise<T>;
  /** The last lines of the log, for a failing test's message. */
  logTail(lines?: number): string;
}

export function startProgram(
  program: "operator" | "discovery",
  args: string[],
  opts: {
    wrapper?: string[];
    /** Run the built program (dist/, what the image runs) instead of the source. */ built?: boolean;
  } = {},
): ProgramProcess {
  const logFile = join(
    mkdtempSync(join(tmpdir(), `metalpool-${program === "operator" ? "op" : "disc"}-`)),
    `${program}.log`,
  );
  const entry = opts.built ? `dist/${program}/main.js` : `${program}/main.ts`;
  if (!existsSync(join(REPO_DIR, entry))) throw new Error(`${entry} not found (npm run build)`);
  const command = [...(opts.wrapper ?? []), process.execPath, join(REPO_DIR, entry), ...args];
  const proc = startProcess(program, command[0] as string, command.slice(1), { logFile });
  const stopProcess = proc.stop.bind(proc);
  const lines = (): string[] => (existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n") : []);
  return Object.assign(proc, {
    logFile,
    logTail: (n = 40) => lines().slice(-n).join("\n"),
    logged: async <T>(msg: string, field: string): Promise<T> => {
      let value: T | undefined;
      await waitFor(
        `${program} to log "${msg}"`,
        () => {
          if (proc.exited()) throw new Error(`${program} exited:\n${lines().slice(-20).join("\n")}`);
          const line = lines().find((l) => l.includes(`"msg":"${msg}"`));
          value = line ? (JSON.parse(line) as Record<string, T>)[field] : undefined;
          return Promise.resolve(value !== undefined);
        },
        30_000,
      );
      return value as T;
    },
    // Nothing is left behind unless asked for (METALPOOL_KEEP_TEST_LOGS=1 keeps the logs to read later).
    stop: async (graceMs?: number) => {
      await stopProcess(graceMs);
      if (!process.env.METALPOOL_KEEP_TEST_LOGS) rmSync(dirname(logFile), { recursive: true, force: true });
    },
  });
}
