// `npm run broadcast -- …`: county broadcasts for operators, through the same core functions as the API.
//   --file notice.txt | --text "…"     the text
//   --target all | towns:<编码或id>,… | kinds:BRANCH,CADRE | groups:<id>,…
//   --at "2026-12-01 09:00"            optional send time (Asia/Shanghai unless an offset is given)
//   --attach <path>                    optional picture or document, sent to each group after the text
//   --dry-run                          what would be sent, to whom, how long; nothing is written
//   --as <用户名>                       the county admin drafting (or approving, with --approve)
//   --approve <编号> --as <用户名>       approve (a second county admin), then follow the progress
//   --watch <编号>                      a progress bar until nothing is left to send
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, ConfigError } from "../config.ts";
import { createLogger } from "../log.ts";
import { openDatabase, type PrismaClient } from "../db/index.ts";
import { isAppError } from "../kernel/errors.ts";
import { createBlobStore, fileTooLarge } from "../storage/index.ts";
import { checkAttachment, discardAttachment, storeAttachment, type CheckedAttachment } from "./attachments.ts";
import { approveBroadcast, broadcastReport, draftBroadcast, previewTarget, type BroadcastActor, type BroadcastTarget, type Preview } from "./broadcasts.ts";

const USAGE = `用法：
  npm run broadcast -- --file notice.txt --target all --dry-run
  npm run broadcast -- --text "通知内容" --target towns:T1,T2 [--at "2026-12-01 09:00"] [--attach 通知.pdf] --as <县级管理员用户名>
  npm run broadcast -- --approve GB20261130-0007 --as <另一位县级管理员用户名>
  npm run broadcast -- --watch GB20261130-0007
范围：all（全县）· towns:<乡镇编码或id>,… · kinds:BRANCH,CADRE · groups:<群id>,…
附件：--attach 一个图片（JPEG、PNG、GIF、WebP、HEIC）或文档（PDF、DOC/DOCX、XLS/XLSX、PPT/PPTX），不超过 UPLOAD_MAX_BYTES`;

class UsageError extends Error {}

/** Reads and checks --attach (same rules as the API's upload); the size is refused before the file is read. */
export function readAttachment(file: string, maxBytes: number): CheckedAttachment {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new UsageError(`找不到附件文件“${file}”`);
  }
  if (size > maxBytes) throw fileTooLarge(maxBytes, size);
  return checkAttachment(readFileSync(file), path.basename(file), { maxBytes });
}

export async function parseTarget(prisma: PrismaClient, s: string): Promise<BroadcastTarget> {
  const [scope, list = ""] = s.split(":", 2);
  const items = list.split(",").map((x) => x.trim()).filter(Boolean);
  switch (scope) {
    case "all":
      return { scope: "all" };
    case "kinds":
      return { scope: "kinds", kinds: items.map((k) => k.toUpperCase()) as ("BRANCH" | "CADRE")[] };
    case "groups":
      if (items.some((x) => !/^\d+$/.test(x))) throw new UsageError(`群 id 须为数字：${list}`);
      return { scope: "groups", groupIds: items.map(Number) };
    case "towns": {
      const ids: number[] = [];
      for (const x of items) {
        if (/^\d+$/.test(x)) ids.push(Number(x));
        else {
          const u = await prisma.orgUnit.findFirst({ where: { OR: [{ code: x }, { name: x }], kind: "TOWN" }, select: { id: true } });
          if (!u) throw new UsageError(`找不到乡镇“${x}”`);
          ids.push(u.id);
        }
      }
      return { scope: "towns", townIds: ids };
    }
    default:
      throw new UsageError(`无法识别的范围“${s}”`);
  }
}

/** "2026-12-01 09:00" is Shanghai time; an ISO string with an offset is taken as is. */
export function parseAt(s: string): Date {
  const t = s.trim().replace(" ", "T");
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}${t.length <= 16 ? ":00" : ""}+08:00`);
  if (Number.isNaN(d.getTime())) throw new UsageError(`看不懂时间“${s}”，请写成 2026-12-01 09:00`);
  return d;
}

const duration = (s: number) => (s < 60 ? `${s} 秒` : s < 3600 ? `${Math.ceil(s / 60)} 分钟` : `${(s / 3600).toFixed(1)} 小时`);

export function describePreview(p: Preview): string {
  return [
    `将发送到 ${p.groups} 个群（每群 ${p.partsPerGroup} 条，共 ${p.messages} 条消息）：`,
    ...p.perTown.map((t) => `  ${t.townName}：${t.groups} 个群`),
    `由 ${p.accounts.length} 个账号发送：${p.accounts.map((a) => `${a.name}（${a.status}，${a.groups} 个群，每分钟 ${a.sendsPerMinute} 条）`).join("、") || "无"}`,
    ...(p.groupsWithoutOnlineAccount ? [`其中 ${p.groupsWithoutOnlineAccount} 个群目前没有在线账号，会等待账号上线`] : []),
    `预计用时：约 ${duration(p.estimatedSeconds)}`,
  ].join("\n");
}

/** One line, redrawn in place on a terminal: [██████░░░░] 60% 已发送 … */
export function progressLine(t: { total: number; sent: number; failed: number; cancelled: number; waiting: number; queued: number; sending: number }, width = 30): string {
  const done = t.sent + t.failed + t.cancelled;
  const frac = t.total ? done / t.total : 1;
  const filled = Math.round(frac * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${Math.floor(frac * 100)}%  已发送 ${t.sent}/${t.total}  排队 ${t.queued + t.sending}  等待 ${t.waiting}  失败 ${t.failed}  取消 ${t.cancelled}`;
}

async function watch(prisma: PrismaClient, actor: BroadcastActor, ref: string) {
  const tty = process.stdout.isTTY;
  for (;;) {
    const r = await broadcastReport(prisma, actor, ref);
    const line = progressLine(r.totals);
    process.stdout.write(tty ? `\r${line}` : `${line}\n`);
    const t = r.totals;
    if (t.queued + t.sending === 0 || ["COMPLETED", "CANCELLED"].includes(r.broadcast.status)) {
      if (tty) process.stdout.write("\n");
      console.log(`广播 ${r.broadcast.number}：${r.broadcast.statusLabel}`);
      if (t.waiting) console.log(`  ${t.waiting} 个群没有在线账号，会在账号上线后发送；可用 --watch ${r.broadcast.number} 继续查看`);
      for (const f of r.failed) console.log(`  失败：${f.topic}（${f.townName}，${f.errorClass ?? "未知"}）`);
      return;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      file: { type: "string" },
      text: { type: "string" },
      target: { type: "string" },
      title: { type: "string" },
      at: { type: "string" },
      attach: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      as: { type: "string" },
      approve: { type: "string" },
      watch: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  const log = createLogger(process.env.LOG_LEVEL ?? "warn");
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, retries: config.DB_CONNECT_RETRIES, logger: log });
  await db.connect({ migrate: true });
  const prisma = db.prisma;
  try {
    const cadre = async (username: string | undefined): Promise<BroadcastActor> => {
      if (!username) throw new UsageError("请用 --as <用户名> 指明以哪位县级管理员的身份操作");
      const u = await prisma.cadreUser.findUnique({ where: { username }, include: { orgUnit: { select: { path: true } } } });
      if (!u || !u.active) throw new UsageError(`找不到用户“${username}”`);
      return { cadreUserId: u.id, role: u.role, orgPath: u.orgUnit.path, channel: "cli" };
    };
    if (values.approve) {
      const actor = await cadre(values.as);
      const d = await approveBroadcast(prisma, actor, values.approve);
      console.log(d.queued ? `已批准广播 ${d.broadcast.number}，正在向 ${d.queued} 个群发送` : `已批准广播 ${d.broadcast.number}，将按定时发送`);
      if (d.queued) await watch(prisma, actor, d.broadcast.number);
      return 0;
    }
    if (values.watch) {
      const county = await prisma.orgUnit.findFirst({ where: { kind: "COUNTY" }, select: { path: true } });
      await watch(prisma, values.as ? await cadre(values.as) : { cadreUserId: null, role: "COUNTY_ADMIN", orgPath: county?.path ?? "/", channel: "cli" }, values.watch);
      return 0;
    }
    const text = values.file ? readFileSync(values.file, "utf8") : values.text;
    if (text === undefined) throw new UsageError("请用 --file 或 --text 给出广播内容");
    if (!values.target) throw new UsageError("请用 --target 给出发送范围");
    const target = await parseTarget(prisma, values.target);
    const scheduledAt = values.at ? parseAt(values.at) : null;
    const checked = values.attach ? readAttachment(values.attach, config.UPLOAD_MAX_BYTES) : null;
    if (values["dry-run"]) {
      const county = values.as ? (await cadre(values.as)).orgPath! : ((await prisma.orgUnit.findFirst({ where: { kind: "COUNTY" }, select: { path: true } }))?.path ?? "/");
      if (scheduledAt && scheduledAt.getTime() <= Date.now()) throw new UsageError("定时发送的时间已经过去，请选择将来的时间");
      const p = await previewTarget(prisma, county, target, text, { minGapMs: config.SENDER_MIN_GAP_MS, jitterMs: config.SENDER_JITTER_MS }, { attachment: !!checked });
      console.log("（演练，不会保存或发送任何内容）");
      console.log(describePreview(p));
      if (checked) console.log(`附件：${checked.name}（${checked.kind === "image" ? "图片" : "文档"}，${checked.data.length} 字节），在正文之后发送`);
      if (scheduledAt) console.log(`定时：${scheduledAt.toISOString()}`);
      return 0;
    }
    const actor = await cadre(values.as);
    const store = createBlobStore(config);
    const attachment = checked ? await storeAttachment(store, checked) : null;
    const r = await draftBroadcast(prisma, actor, { title: values.title, body: text, target, scheduledAt, attachment }, new Date(), {
      minGapMs: config.SENDER_MIN_GAP_MS,
      jitterMs: config.SENDER_JITTER_MS,
    }).catch(async (e) => {
      await discardAttachment(store, attachment);
      throw e;
    });
    if (attachment) console.log(`附件：${attachment.name}，在正文之后发送`);
    console.log(describePreview(r.preview));
    console.log(`已起草广播 ${r.broadcast.number}，待另一位县级管理员批准（npm run broadcast -- --approve ${r.broadcast.number} --as <用户名>，或在聊天中发送“批准广播 ${r.broadcast.number}”）`);
    return 0;
  } finally {
    await db.close();
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!);
if (isMain) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      if (e instanceof UsageError) console.error(`${e.message}\n\n${USAGE}`);
      else if (e instanceof ConfigError) console.error(e.message);
      else if (isAppError(e)) console.error(`${e.message}（${e.code}）`);
      else console.error(`出错了：${(e as Error).message}`);
      process.exit(isAppError(e) || e instanceof UsageError ? 2 : 1);
    },
  );
}
