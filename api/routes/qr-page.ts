// The on-site check-in screen: the page behind the secretary's 签到码 link. It shows the current rotating QR token
// and reloads itself when the token rotates, so a phone or a projector needs no login and no JavaScript.
import QRCode from "qrcode";
import { z } from "zod";
import { AppError, isAppError } from "../../core/kernel/errors.ts";
import { issueQrToken, verifyDisplayKey } from "../../core/meetings/qr.ts";
import { formatZhDateTime, formatZhTime } from "../../core/meetings/time.ts";
import { MEETING_TYPE_LABEL } from "../../core/meetings/labels.ts";
import type { ApiCtx } from "../types.ts";
import type { ApiRouter } from "../validate.ts";

export const QR_PAGE_PATH = "/qr/:id";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

function page(title: string, body: string, refreshSec?: number) {
  return `<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  ${refreshSec ? `<meta http-equiv="refresh" content="${refreshSec}">` : ""}
  <title>${escapeHtml(title)}</title>
  <style>
    body { font-family: "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0; padding: 24px; text-align: center; color: #222; }
    h1 { font-size: 1.6em; color: #c00; margin: 0.3em 0; }
    .qr svg { width: min(80vw, 70vh); height: auto; }
    .meta { color: #555; line-height: 1.7; }
    .hint { font-size: 1.2em; margin-top: 0.5em; }
  </style>
</head>
<body>
${body}
</body>
</html>
`;
}

export function registerQrPageRoutes(api: ApiRouter) {
  api.router.get(QR_PAGE_PATH, async (ctx) => {
    const c = ctx as unknown as ApiCtx;
    c.set("Content-Security-Policy", CSP);
    c.set("Cache-Control", "no-store");
    c.set("Referrer-Policy", "no-referrer");
    c.type = "text/html; charset=utf-8";
    try {
      const id = Number(c.params.id);
      if (!Number.isInteger(id) || id <= 0) throw new AppError("MEETING_NOT_FOUND");
      const { config, db } = c.deps;
      verifyDisplayKey(config.JWT_SECRET, id, String(c.query.k ?? ""));
      const meeting = await db.prisma.meeting.findUnique({ where: { id }, include: { orgUnit: { select: { name: true } } } });
      if (!meeting) throw new AppError("MEETING_NOT_FOUND");
      if (meeting.status === "CANCELLED") throw new AppError("QR_LINK_EXPIRED", `「${meeting.topic}」已经取消。`);
      const now = Date.now();
      if (meeting.checkinClosesAt.getTime() <= now) throw new AppError("QR_LINK_EXPIRED", "签到已经结束。");
      const title = `${meeting.orgUnit.name} · ${MEETING_TYPE_LABEL[meeting.type]}签到`;
      const info = `<div class="meta">${escapeHtml(meeting.topic)}<br>${formatZhDateTime(meeting.plannedAt)}${meeting.place ? ` · ${escapeHtml(meeting.place)}` : ""}</div>`;
      if (meeting.checkinOpensAt.getTime() > now) {
        const wait = Math.min(Math.ceil((meeting.checkinOpensAt.getTime() - now) / 1000) + 1, 300);
        c.body = page(title, `<h1>${escapeHtml(title)}</h1>${info}<p class="hint">签到 ${formatZhTime(meeting.checkinOpensAt)} 开始，届时本页自动显示二维码。</p>`, wait);
        return;
      }
      const qr = issueQrToken(config.JWT_SECRET, id, now);
      const svg = await QRCode.toString(qr.token, { type: "svg", margin: 1, errorCorrectionLevel: "M" });
      const refresh = Math.max(1, Math.ceil((qr.rotatesAt.getTime() - now) / 1000));
      c.body = page(
        title,
        `<h1>${escapeHtml(title)}</h1>${info}<div class="qr">${svg}</div><p class="hint">请打开小程序“扫码签到”扫描二维码</p><div class="meta">二维码每 30 秒自动更新 · 签到截止 ${formatZhTime(meeting.checkinClosesAt)}</div>`,
        refresh,
      );
    } catch (e) {
      const err = isAppError(e) ? e : new AppError("INTERNAL_ERROR", "页面暂时无法显示，请稍后刷新。");
      if (!isAppError(e)) c.deps.log.error({ err: e }, "签到码页面出错");
      c.status = err.status;
      c.body = page("签到码", `<h1>签到码</h1><p class="hint">${escapeHtml(err.message)}</p>`);
    }
  });
  api.registry.registerPath({
    method: "get",
    path: "/qr/{id}",
    summary: "现场签到码页面 / on-site check-in QR page",
    description: "机器人“签到码”命令发给支部书记的链接：无需登录，k 为带有效期的签名；页面显示每 30 秒轮换的签到二维码并自动刷新。",
    tags: ["meetings"],
    request: { params: z.object({ id: z.string() }), query: z.object({ k: z.string().meta({ description: "签名（含有效期）" }) }) },
    responses: {
      200: { description: "HTML 页面", content: { "text/html": { schema: z.string() } } },
      403: { description: "链接无效（QR_LINK_INVALID）" },
      410: { description: "签到已结束或会议已取消" },
    },
  });
}
