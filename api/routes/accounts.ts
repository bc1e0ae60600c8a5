// Bot accounts for the county office and operators: status, budgets and load, and the login QR to scan.
import { z } from "zod";
import { listAccounts, loginQrFor } from "../../core/chat/accounts.ts";
import { AccountStatusSchema, ChannelSchema, IdParams, IsoDateTime as isoDate } from "../schemas.ts";
import type { ApiRouter } from "../validate.ts";

const count = (description: string) => z.number().int().meta({ description });

const AccountList = z
  .object({
    dayStart: isoDate().meta({ description: "“今日”的起点：Asia/Shanghai 当天 0 点" }),
    items: z.array(
      z.object({
        id: z.number().int(),
        name: z.string().meta({ description: "账号名（BOT_ACCOUNT）" }),
        channel: ChannelSchema,
        displayName: z.string().meta({ description: "平台上的昵称" }),
        status: AccountStatusSchema,
        statusLabel: z.string().meta({ description: "状态（中文）", example: "在线" }),
        statusReason: z.string().nullable(),
        cooldownUntil: isoDate().nullable(),
        lastSeenAt: isoDate().nullable(),
        groupsServed: count("服务的群数（有效的群-账号关联）"),
        sentToday: count("今日已发送条数（Asia/Shanghai 0 点起）"),
        dailyBudget: count("每日发送上限"),
        remainingToday: count("今日剩余额度"),
        sendsPerMinute: count("每分钟发送上限"),
        sendsPerHour: count("每小时发送上限"),
        maxMentions: count("单条消息最多 @ 人数"),
        queued: count("指定由该账号发送、排队中的消息数"),
        needsLogin: z.boolean().meta({ description: "需要扫码登录" }),
        loginQrAvailable: z.boolean().meta({ description: "有可扫的登录二维码（见 login-qr 接口）" }),
      }),
    ),
  })
  .meta({ id: "BotAccountList" });

const LoginQr = z
  .object({
    accountId: z.number().int(),
    name: z.string(),
    channel: ChannelSchema,
    status: AccountStatusSchema,
    statusLabel: z.string(),
    qr: z.string().meta({ description: "二维码内容（机器人收到的 scan 载荷）" }),
    qrAt: isoDate().meta({ description: "二维码生成时间" }),
    expiresAt: isoDate().meta({ description: "过期时间（约 5 分钟）" }),
    svg: z.string().meta({ description: "二维码 SVG 图像，可直接嵌入页面" }),
  })
  .meta({ id: "BotLoginQr" });

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function registerAccountRoutes(api: ApiRouter) {
  api.route({
    method: "get",
    path: "/api/admin/accounts",
    summary: "机器人账号列表 / bot accounts",
    description: "全部机器人账号的状态、服务群数、今日发送量与额度、排队数。仅县级管理员。",
    tags: ["accounts"],
    auth: { roles: ["COUNTY_ADMIN"] },
    response: { description: "机器人账号（按渠道、账号名排序）", schema: AccountList },
    handler: async (ctx) => {
      const { items, dayStart } = await listAccounts(ctx.deps.db);
      return {
        dayStart: dayStart.toISOString(),
        items: items.map((a) => ({ ...a, cooldownUntil: iso(a.cooldownUntil), lastSeenAt: iso(a.lastSeenAt) })),
      };
    },
  });

  api.route({
    method: "get",
    path: "/api/admin/accounts/:id/login-qr",
    summary: "机器人登录二维码 / login QR to scan",
    description:
      "账号处于“待扫码登录”时返回机器人最新收到的登录二维码（内容与 SVG 图像）。仅县级管理员。\n\n" +
      "404 ACCOUNT_NOT_FOUND：账号不存在；409 LOGIN_NOT_NEEDED：该账号当前无需扫码登录；409 LOGIN_QR_EXPIRED：二维码已超过约 5 分钟，请等待机器人生成新的二维码后刷新。",
    tags: ["accounts"],
    auth: { roles: ["COUNTY_ADMIN"] },
    params: IdParams,
    response: { description: "登录二维码", schema: LoginQr },
    errors: [404, 409],
    handler: async (ctx, { params }) => {
      const qr = await loginQrFor(ctx.deps.db, params.id);
      return { ...qr, qrAt: qr.qrAt.toISOString(), expiresAt: qr.expiresAt.toISOString() };
    },
  });
}
