// Liveness (the process answers) and readiness (its dependencies answer). Orchestrators restart on the first and
// stop sending traffic on the second, so /readyz must fail fast and never hang on a dead dependency.
import { z } from "zod";
import { AppError } from "../../core/kernel/errors.ts";
import type { ApiRouter } from "../validate.ts";

/** Each dependency gets this long before it counts as down. */
export const READINESS_TIMEOUT_MS = 2000;

type CheckResult = "ok" | "unreachable" | "timeout";

const Health = z.object({ status: z.literal("ok") }).meta({ id: "Health" });
const Ready = z
  .object({
    status: z.literal("ready"),
    checks: z.object({ database: z.literal("ok"), coordination: z.literal("ok") }),
  })
  .meta({ id: "Ready" });

async function check(probe: () => Promise<void>, onFail: (reason: CheckResult, err?: unknown) => void): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), READINESS_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([probe().then(() => "ok" as const), timeout]);
    if (result === "timeout") onFail(result);
    return result;
  } catch (err) {
    onFail("unreachable", err);
    return "unreachable";
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/healthz",
    summary: "存活检查 / liveness",
    description: "进程在运行即返回 200，不检查依赖。",
    tags: ["health"],
    response: { description: "进程存活", schema: Health },
    handler: () => ({ status: "ok" as const }),
  });

  api.route({
    method: "get",
    path: "/readyz",
    summary: "就绪检查 / readiness",
    description: `数据库与 Redis（协调服务）均可达时返回 200，否则 503 NOT_READY；每项最多等待 ${READINESS_TIMEOUT_MS / 1000} 秒。`,
    tags: ["health"],
    response: { description: "可以接收请求", schema: Ready },
    errors: [503],
    handler: async (ctx) => {
      const { db, coord } = ctx.deps;
      const log = ctx.state.log;
      const [database, coordination] = await Promise.all([
        check(() => db.ping(), (reason, err) => log.warn({ reason, err: (err as Error)?.message }, "就绪检查：数据库不可达")),
        check(() => coord.ping(), (reason, err) => log.warn({ reason, err: (err as Error)?.message, kind: coord.kind }, "就绪检查：Redis 不可达")),
      ]);
      if (database === "ok" && coordination === "ok") return { status: "ready" as const, checks: { database, coordination } };
      const down = [database !== "ok" && "数据库", coordination !== "ok" && "Redis（协调服务）"].filter(Boolean).join("和");
      throw new AppError("NOT_READY", `服务尚未就绪：${down}不可达`, { checks: { database, coordination } });
    },
  });
}
