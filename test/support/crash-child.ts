// A netbranch role started as its own OS process, exactly as in production (`npx tsx core/main.ts …`), for tests that
// kill it. It runs in its own process group so a SIGKILL reaches the whole tree (npx → tsx → node), as a container
// or systemd kill would; its output is kept so an unexpected death fails the test with the reason.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface RoleProcess {
  readonly child: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Set once the process has exited. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Throws (with its output) if the process has exited without being killed by us. */
  assertAlive(): void;
  /** SIGKILL to the whole process group; resolves once the main process is gone. */
  kill(): Promise<void>;
}

export function startRole(args: string[], env: Record<string, string>): RoleProcess {
  const child = spawn("npx", ["tsx", "core/main.ts", ...args], {
    cwd: ROOT,
    // A clean environment: only what production would be given (no jest NODE_OPTIONS, no test variables).
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let killed = false;
  const gone = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  return {
    child,
    output: () => out,
    exited: () => exit,
    assertAlive() {
      if (exit && !killed) {
        throw new Error(`${args.join(" ")} exited unexpectedly (code ${exit.code}, signal ${exit.signal}):\n${out.slice(-4_000)}`);
      }
    },
    async kill() {
      killed = true;
      // Also after the main process exited: what it started may still be running in the group.
      if (child.pid) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      }
      await gone;
    },
  };
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
