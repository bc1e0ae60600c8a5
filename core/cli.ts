// How the command-line tools (npm run setup, npm run seed) end: an exit code and one Chinese line on stderr for each
// kind of failure, never a stack trace unless LOG_LEVEL asks for it.
import { ConfigError } from "./config.ts";

/** A bad flag or value: the message, then the usage text, exit code 2. */
export class UsageError extends Error {}

/** A refusal the tool knows about: its message and exit code (usage text shown with it when asked). */
export interface KnownFailure {
  message: string;
  exitCode: number;
  withUsage?: boolean;
}

export function runCli(main: () => Promise<number>, opts: { usage: string; failedPrefix: string; known?: (e: unknown) => KnownFailure | undefined }): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const known = opts.known?.(e);
      if (e instanceof ConfigError) {
        process.stderr.write(`${e.message}\n`);
        process.exitCode = 2;
      } else if (e instanceof UsageError) {
        process.stderr.write(`${e.message}\n\n${opts.usage}\n`);
        process.exitCode = 2;
      } else if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
        process.stderr.write(`参数错误：${e.message}\n\n${opts.usage}\n`);
        process.exitCode = 2;
      } else if (known) {
        process.stderr.write(`${known.message}\n${known.withUsage ? `\n${opts.usage}\n` : ""}`);
        process.exitCode = known.exitCode;
      } else if ((e as { code?: string })?.code === "ABORT_ERR") {
        // Ctrl+C / Ctrl+D at a prompt.
        process.stderr.write("\n已取消，未做任何修改。\n");
        process.exitCode = 130;
      } else {
        const debug = process.env.LOG_LEVEL === "debug" || process.env.LOG_LEVEL === "trace";
        process.stderr.write(`${opts.failedPrefix}：${e instanceof Error ? (debug ? (e.stack ?? e.message) : e.message) : String(e)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
