// One place reads and validates the environment. A bad value stops the process with one line naming the variable.
import { z } from "zod";
import cron from "node-cron";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "必须是 true 或 false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) =>
  z.coerce
    .number({ message: "必须是整数" })
    .int({ message: "必须是整数" })
    .min(min, { message: `不能小于 ${min}` })
    .max(max, { message: `不能大于 ${max}` });
/** "09:00" → { hour: 9, minute: 0 } (local Asia/Shanghai time). */
const hhmm = z
  .string()
  .regex(/^([01]?\d|2[0-3]):[0-5]\d$/, { message: "应为 时:分，例如 09:00" })
  .transform((v) => ({ hour: Number(v.split(":")[0]), minute: Number(v.split(":")[1]) }));
/** "1 09:00" → day of month (1-28) and local time. */
const dayTime = z
  .string()
  .regex(/^([1-9]|1\d|2[0-8]) ([01]?\d|2[0-3]):[0-5]\d$/, { message: "应为 日 时:分（日为 1-28），例如 1 09:00" })
  .transform((v) => {
    const [day, time] = v.split(" ");
    return { day: Number(day), hour: Number(time.split(":")[0]), minute: Number(time.split(":")[1]) };
  });
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    },
    { message: `必须是 ${protocols.join("/")} 地址` },
  );

export const ROLES = ["api", "bot", "jobs"] as const;
export type Role = (typeof ROLES)[number];

/** Development-only secret: refused when NODE_ENV=production. */
const DEV_JWT_SECRET = "netbranch-dev-secret-change-me-0123456789";

const envSchema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"], { message: "必须是 development、production 或 test" }).default("development"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { message: "必须是 fatal/error/warn/info/debug/trace/silent 之一" }).default("info"),
    DATABASE_URL: url(["postgres", "postgresql"]).optional(),
    PGLITE_DIR: z.string().min(1).default("./data/pglite"),
    DB_CONNECT_RETRIES: int(0, 1000).default(30),
    REDIS_URL: url(["redis", "rediss"]).optional(),
    REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:_\-.]*$/, { message: "只能包含字母、数字和 : _ - ." }).default("netbranch:"),
    API_HOST: z.string().min(1).default("0.0.0.0"),
    API_PORT: int(0, 65535).default(3000),
    /** How people reach the API from outside (links the bot sends, e.g. the on-site check-in code page). */
    PUBLIC_BASE_URL: url(["http", "https"]).optional(),
    /** Behind nginx or another reverse proxy: take the client address from X-Forwarded-For (login rate limits). */
    API_TRUST_PROXY: bool.default(false),
    API_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, { message: "格式如 1mb、512kb" }).default("1mb"),
    JWT_SECRET: z.string().min(32, { message: "至少 32 个字符" }).default(DEV_JWT_SECRET),
    JWT_ACCESS_TTL_SECONDS: int(60, 30 * 24 * 3600).default(7200),
    WECHAT_API_BASE: url(["http", "https"]).default("https://api.weixin.qq.com"),
    WECHAT_MP_APPID: z.string().optional(),
    WECHAT_MP_SECRET: z.string().optional(),
    WECHATY_PUPPET: z
      .enum(["wechaty-puppet-mock", "wechaty-puppet-wechat4u", "wechaty-puppet-service"], {
        message: "必须是 wechaty-puppet-mock、wechaty-puppet-wechat4u 或 wechaty-puppet-service",
      })
      .default("wechaty-puppet-mock"),
    WECHATY_PUPPET_SERVICE_TOKEN: z.string().optional(),
    WECHATY_PUPPET_SERVICE_ENDPOINT: z.string().optional(),
    BOT_ACCOUNT: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "只能包含字母、数字、_ 和 -（1-64 个字符）" }).default("wx-main"),
    /** Which platform this bot process's account is on: wechat (Wechaty) or qq (OneBot v11: NapCat, LLOneBot, Lagrange). */
    BOT_PLATFORM: z.enum(["wechat", "qq"], { message: "必须是 wechat 或 qq" }).default("wechat"),
    /** OneBot v11 transport of a QQ account: reverse (the implementation connects to /onebot/v11/ws on the API port) or forward (we connect to it). */
    ONEBOT_TRANSPORT: z.enum(["reverse", "forward"], { message: "必须是 reverse 或 forward" }).default("reverse"),
    /** The access token configured in NapCat (both transports); required in production. */
    ONEBOT_ACCESS_TOKEN: z.string().optional(),
    /** The QQ number of this account (X-Self-ID); unset: whichever QQ connects first. */
    ONEBOT_SELF_ID: z.string().regex(/^\d{5,12}$/, { message: "应为 QQ 号（5-12 位数字）" }).optional(),
    /** Forward transport: the implementation's WebSocket server (NapCat: 网络配置 → WebSocket 服务端, port 6700 by default). */
    ONEBOT_FORWARD_URL: url(["ws", "wss"]).default("ws://127.0.0.1:6700/"),
    /** How long an action (send_group_msg …) may go unanswered; a send that times out backs the account off. */
    ONEBOT_ACTION_TIMEOUT_MS: int(500, 120_000).default(15_000),
    /** Heartbeat intervals of silence after which the link is considered dead (the account goes offline). */
    ONEBOT_DEAD_AFTER_BEATS: int(2, 20).default(3),
    /** Forward transport: longest pause between two reconnection attempts (they start at 1 s and double). */
    ONEBOT_RECONNECT_MAX_MS: int(1000, 600_000).default(30_000),
    // Risk control: at most ~1 message/s per account with random jitter (see shared/notes/wechaty.md).
    SENDER_MIN_GAP_MS: int(0, 60_000).default(1000),
    SENDER_JITTER_MS: int(0, 60_000).default(2000),
    SENDER_POLL_MS: int(50, 60_000).default(1000),
    /** How long an account rests after the platform says "too frequent" (risk control). */
    SENDER_COOLDOWN_MS: int(1000, 24 * 3600_000).default(10 * 60_000),
    /** Inbound messages handled at once per bot process; keep it below the database pool size (10). */
    INBOUND_CONCURRENCY: int(1, 256).default(8),
    /** Default check-in window around a meeting's start (design.md: 30 min before to 30 min after). */
    CHECKIN_OPENS_BEFORE_MIN: int(0, 24 * 60).default(30),
    CHECKIN_CLOSES_AFTER_MIN: int(0, 24 * 60).default(30),
    /** At most one check-in summary per group per this many seconds ("已签到 23/35（新增：…）"). */
    CHECKIN_ACK_INTERVAL_SEC: int(1, 3600).default(15),
    /** Names listed in one summary before "等 N 人". */
    CHECKIN_ACK_NAMES: int(1, 100).default(10),
    /** Write-behind for chat check-ins: a batch is written when it has this many rows or is this old. */
    CHECKIN_BATCH_MAX: int(1, 5000).default(500),
    CHECKIN_BATCH_WAIT_MS: int(0, 5000).default(20),
    MEETING_FINALIZE_CRON: z.string().refine((v) => cron.validate(v), { message: "不是有效的 cron 表达式" }).default("*/1 * * * *"),
    JOBS_HEARTBEAT_CRON: z.string().refine((v) => cron.validate(v), { message: "不是有效的 cron 表达式" }).default("*/1 * * * *"),
    /** County broadcasts: start the scheduled ones whose time has come, mark finished ones completed. */
    BROADCAST_TICK_CRON: z.string().refine((v) => cron.validate(v), { message: "不是有效的 cron 表达式" }).default("* * * * *"),
    /** 限时办结 (design.md): response and resolution limits in working days on the official calendar; urgent tickets in hours / working days. */
    COMPLAINT_RESPONSE_WORKDAYS: int(0, 30).default(1),
    COMPLAINT_RESOLVE_WORKDAYS: int(1, 60).default(5),
    COMPLAINT_URGENT_RESPONSE_HOURS: int(1, 72).default(2),
    COMPLAINT_URGENT_RESOLVE_WORKDAYS: int(1, 30).default(1),
    /** An overdue ticket goes to the town at its resolution deadline, and to the county this many working days later. */
    COMPLAINT_ESCALATE_AGAIN_WORKDAYS: int(0, 30).default(2),
    COMPLAINT_ESCALATION_CRON: z.string().refine((v) => cron.validate(v), { message: "不是有效的 cron 表达式" }).default("*/5 * * * *"),
    /** Photos the filer sends this soon after filing attach to the ticket; larger photos are refused. */
    COMPLAINT_PHOTO_WINDOW_MIN: int(1, 24 * 60).default(5),
    COMPLAINT_PHOTO_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
    /** A resolved ticket the filer has not rated within this many days is closed without a rating. */
    COMPLAINT_RATING_WINDOW_DAYS: int(1, 365).default(7),
    /** 三会一课 calendar (reminders, overdue alerts, reports): one level-triggered tick; each note goes out once. */
    CALENDAR_TICK_CRON: z.string().refine((v) => cron.validate(v), { message: "不是有效的 cron 表达式" }).default("* * * * *"),
    /** After downtime, reminders and reports missed by at most this many hours are still sent; older ones are recorded as skipped. */
    CALENDAR_CATCHUP_HOURS: int(0, 24 * 31).default(48),
    /** Meeting reminders to the branch group, in minutes before the start (default 24 h and 1 h). */
    MEETING_REMINDER_MINUTES: z
      .string()
      .regex(/^\s*\d{1,5}(\s*,\s*\d{1,5})*\s*$/, { message: "应为逗号分隔的分钟数，例如 1440,60" })
      .default("1440,60")
      .transform((v) => [...new Set(v.split(",").map((x) => Number(x.trim())).filter((x) => x > 0))].sort((a, b) => b - a)),
    /** Local time (Asia/Shanghai) of the due reminders and overdue alerts, and of the 主题党日 morning reminder. */
    CALENDAR_REMINDER_TIME: hhmm.prefault("09:00"),
    THEME_DAY_REMINDER_TIME: hhmm.prefault("08:00"),
    /** 月报告: day of month and local time it goes out for the month before; 季通报: the same in a quarter's first month. */
    REPORT_MONTHLY_AT: dayTime.prefault("1 09:00"),
    REPORT_QUARTERLY_AT: dayTime.prefault("1 09:30"),
    /** Uploaded files (complaint photos) on local disk, unless an S3-compatible store is configured below. */
    STORAGE_DIR: z.string().min(1).default("./data/uploads"),
    /** Largest accepted upload (a photo from the mini-program or a chat), in bytes. */
    UPLOAD_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(10 * 1024 * 1024),
    /** S3-compatible object store (MinIO, COS, OSS, AWS): used instead of STORAGE_DIR when all four are set. */
    S3_ENDPOINT: url(["http", "https"]).optional(),
    S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "不是有效的存储桶名称（小写字母、数字、. 和 -，3-63 个字符）" }).optional(),
    S3_ACCESS_KEY_ID: z.string().optional(),
    S3_SECRET_ACCESS_KEY: z.string().optional(),
    S3_REGION: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { message: "只能包含字母、数字和 -" }).default("us-east-1"),
    /** Bucket in the path (http://host/bucket/key) instead of the host name: MinIO and most self-hosted stores. */
    S3_FORCE_PATH_STYLE: bool.default(false),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && env.JWT_SECRET === DEV_JWT_SECRET) {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "生产环境必须设置自己的密钥" });
    }
    if (env.WECHATY_PUPPET === "wechaty-puppet-service" && !env.WECHATY_PUPPET_SERVICE_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["WECHATY_PUPPET_SERVICE_TOKEN"], message: "使用 wechaty-puppet-service 时必须设置" });
    }
    if (env.NODE_ENV === "production" && env.BOT_PLATFORM === "qq" && !env.ONEBOT_ACCESS_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["ONEBOT_ACCESS_TOKEN"], message: "生产环境中 QQ 账号必须设置（与 NapCat 中配置的 token 相同）" });
    }
    const s3 = ["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] as const;
    if (s3.some((k) => env[k])) {
      for (const k of s3) if (!env[k]) ctx.addIssue({ code: "custom", path: [k], message: `使用对象存储时必须设置（已设置 ${s3.filter((x) => env[x]).join("、")}）` });
    }
  });

export type Config = z.infer<typeof envSchema> & {
  /** embedded = PGlite + in-process coordination; service = PostgreSQL (+ Redis). */
  dbMode: "postgres" | "pglite";
  coordMode: "redis" | "memory";
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are treated as unset: `FOO= npm start` should mean "default", not "invalid".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? "环境变量");
    const got = cleaned[name];
    const shown = got === undefined ? "" : name.includes("SECRET") || name.includes("TOKEN") ? "（值已隐藏）" : `（当前值："${got}"）`;
    throw new ConfigError(`配置错误：${name} ${issue.message}${shown}`);
  }
  return {
    ...parsed.data,
    dbMode: parsed.data.DATABASE_URL ? "postgres" : "pglite",
    coordMode: parsed.data.REDIS_URL ? "redis" : "memory",
  };
}

/** Base of links the bot sends people (PUBLIC_BASE_URL, else this machine's API address). */
export function publicBaseUrl(config: Pick<Config, "PUBLIC_BASE_URL" | "API_HOST" | "API_PORT">): string {
  if (config.PUBLIC_BASE_URL) return config.PUBLIC_BASE_URL.replace(/\/+$/, "");
  const host = config.API_HOST === "0.0.0.0" || config.API_HOST === "::" ? "127.0.0.1" : config.API_HOST;
  return `http://${host}:${config.API_PORT}`;
}
