import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs on stderr; secrets are redacted by path wherever they could appear. */
export function createLogger(name: string, level = "info"): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ["password", "*.password", "token", "*.token", "authorization", "*.authorization"],
        censor: "[redacted]",
      },
    },
    pino.destination(2),
  );
}
