import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? "info", name = "netbranch"): Logger {
  return pino({
    name,
    level,
    // Never let a secret or a session key reach the logs.
    redact: { paths: ["req.headers.authorization", "*.password", "*.session_key", "*.secret", "*.token"], censor: "[隐藏]" },
  });
}
