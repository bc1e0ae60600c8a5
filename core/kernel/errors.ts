// The error vocabulary shared by core services, the API and the bot. Every error code lives once in ERRORS with its
// HTTP status and a polite Chinese default message; a throw site names only the code (and, where the text depends on
// the case — a name, a count, a time — its own message), so one code can never be answered with two statuses.
// Everything else thrown is turned into an AppError by normalizeError, so nothing unexpected — and no stack trace —
// ever reaches a user.

/** The statuses an error may answer with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 429 | 500 | 501 | 502 | 503;

/**
 * Every error code. A code is a stable UPPER_SNAKE identifier clients branch on: never rename one once clients may
 * depend on it. `message` is the default text for the user; throw sites may give a more specific one.
 */
export const ERRORS = {
  // ---- HTTP edge, generic, roles and scope ----
  BAD_REQUEST: { status: 400, message: "请求有误，请检查后重试" },
  CONFLICT: { status: 409, message: "数据已存在或已被修改，请刷新后重试" },
  FIELD_TOO_LONG: { status: 400, message: "表单项太长了" },
  FORBIDDEN: { status: 403, message: "您没有执行此操作的权限" },
  INTERNAL_ERROR: { status: 500, message: "服务器内部错误，请稍后再试；如问题持续，请联系管理员并提供请求编号" },
  INVALID_JSON: { status: 400, message: "请求内容不是有效的 JSON，请检查格式" },
  METHOD_NOT_ALLOWED: { status: 405, message: "该接口不支持此请求方法" },
  MULTIPART_INVALID: { status: 400, message: "上传的表单格式有误，请重新提交（multipart/form-data）" },
  NOT_FOUND: { status: 404, message: "请求的内容不存在" },
  NOT_IMPLEMENTED: { status: 501, message: "服务器不支持此请求方法" },
  NOT_READY: { status: 503, message: "服务尚未就绪" },
  OUT_OF_SCOPE: { status: 403, message: "无权访问该单位的数据" },
  PASSWORD_CHANGE_REQUIRED: { status: 403, message: "您正在使用一次性密码，请先修改密码后再继续操作" },
  PAYLOAD_TOO_LARGE: { status: 413, message: "请求内容过大，请精简后重试" },
  REQUEST_ABORTED: { status: 400, message: "请求未完整发送，请重试" },
  ROLE_REQUIRED: { status: 403, message: "抱歉，只有支部书记及以上的干部可以进行此操作。" },
  SERVICE_UNAVAILABLE: { status: 503, message: "服务暂时不可用，请稍后再试" },
  TOO_MANY_ATTEMPTS: { status: 429, message: "尝试次数过多，请稍后再试" },
  TOO_MANY_FILES: { status: 413, message: "上传的文件太多了" },
  UNEXPECTED_FILE_FIELD: { status: 400, message: "文件放在了不接受文件的表单项中" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "请求内容必须是 JSON（Content-Type: application/json）" },
  VALIDATION_FAILED: { status: 400, message: "提交的内容有误，请按提示修改" },
  VALUE_OUT_OF_RANGE: { status: 400, message: "提交的数值超出允许范围，请检查编号等数字是否正确" },
  // ---- logins, tokens and passwords ----
  ACCOUNT_DISABLED: { status: 403, message: "该账号已停用，请联系管理员" },
  INVALID_CREDENTIALS: { status: 401, message: "用户名或密码错误" },
  NOT_A_CADRE_LOGIN: { status: 400, message: "小程序登录不是干部账号登录，无需此操作" },
  PASSWORD_CONTAINS_USERNAME: { status: 400, message: "密码不能包含用户名" },
  PASSWORD_REUSED: { status: 400, message: "新密码不能与原密码相同" },
  PASSWORD_TOO_LONG: { status: 400, message: "密码太长了" },
  PASSWORD_TOO_SHORT: { status: 400, message: "密码太短了" },
  PASSWORD_TOO_WEAK: { status: 400, message: "密码太简单：请至少包含字母、数字、符号中的两种" },
  PASSWORD_WRONG: { status: 400, message: "原密码不正确" },
  TOKEN_EXPIRED: { status: 401, message: "登录已过期，请重新登录" },
  TOKEN_INVALID: { status: 401, message: "登录凭证无效，请重新登录" },
  TOKEN_MISSING: { status: 401, message: "请先登录" },
  TOKEN_REVOKED: { status: 401, message: "登录已失效（已退出登录、修改过密码或账号被停用），请重新登录" },
  // ---- cadre accounts and first setup ----
  CADRE_DISPLAY_NAME_REQUIRED: { status: 400, message: "请填写姓名（显示名）" },
  CADRE_MEMBER_INACTIVE: { status: 400, message: "该党员已不在册（转出、去世或停止党籍），不能关联账号" },
  CADRE_MEMBER_TAKEN: { status: 409, message: "该党员已关联其他账号，一名党员只能关联一个账号" },
  CADRE_NOT_FOUND: { status: 404, message: "该账号不存在" },
  CADRE_ROLE_NOT_ALLOWED: { status: 403, message: "只能创建或管理比您级别低的账号" },
  CADRE_ROLE_UNIT_MISMATCH: { status: 400, message: "账号角色与所选单位的级别不符" },
  CADRE_SELF: { status: 403, message: "不能在这里修改自己的账号；修改密码请使用“修改密码”" },
  CADRE_USERNAME_INVALID: { status: 400, message: "用户名格式不正确" },
  CADRE_USERNAME_TAKEN: { status: 409, message: "该用户名已被使用，请换一个" },
  SETUP_CODE_TAKEN: { status: 409, message: "该组织编码已被使用，请换一个编码" },
  SETUP_INVALID: { status: 400, message: "初始化信息有误，请按提示修改" },
  SETUP_ROOT_EXISTS: { status: 409, message: "已经初始化过根单位" },
  SETUP_USERNAME_TAKEN: { status: 409, message: "该用户名已被使用，请换一个" },
  // ---- organisation tree, roster and imports ----
  BIRTH_YEAR_INVALID: { status: 400, message: "出生年份超出允许范围。" },
  DATE_BEFORE_CURRENT: { status: 400, message: "日期不能早于该党员现在状态的开始时间，请核对。" },
  DATE_IN_FUTURE: { status: 400, message: "日期不能晚于今天。" },
  DATE_TOO_EARLY: { status: 400, message: "日期过早，请核对。" },
  MEMBER_EXISTS: { status: 409, message: "名单中已有该党员，请勿重复添加。" },
  MEMBER_EXISTS_ELSEWHERE: { status: 409, message: "该党员已在其他支部名单中。如组织关系转入本支部，请使用“组织关系转接”，不要重复添加。" },
  MEMBER_NOT_FOUND: { status: 404, message: "没有找到该党员。" },
  MEMBER_NOT_ON_ROSTER: { status: 400, message: "该党员不在名单中，不能办理组织关系转接。" },
  NAME_REQUIRED: { status: 400, message: "姓名不能为空。" },
  NOT_A_BRANCH: { status: 400, message: "该单位不是党支部。" },
  ORG_IMPORT_EMPTY: { status: 400, message: "文件中没有单位数据，请在表头下方逐行填写后再上传。" },
  ORG_IMPORT_FILE_INVALID: { status: 415, message: "上传的文件不是 Excel（.xlsx）文件，请使用组织架构模板填写后上传。" },
  ORG_IMPORT_FILE_MISSING: { status: 400, message: "请选择要导入的 Excel 文件（表单字段 file）。" },
  ORG_IMPORT_FILE_UNREADABLE: { status: 400, message: "无法读取该 Excel 文件，请用 Excel 打开确认后另存为 .xlsx 再上传。" },
  ORG_IMPORT_HAS_ERRORS: { status: 409, message: "组织架构中有行有误，未导入任何数据。请按提示修改后重新上传，或选择“跳过有误的行”后导入其余的行。" },
  ORG_IMPORT_HEADER_INVALID: { status: 400, message: "表头不正确，请使用组织架构模板，第一行为表头。" },
  ORG_IMPORT_SPAN_BROKEN: { status: 409, message: "导入后联合党委涵盖的村将不在同一乡镇，未导入任何数据。请同时调整联合党委涵盖的村。" },
  ORG_IMPORT_TOO_LARGE: { status: 400, message: "一次导入的行数过多，请分几次导入。" },
  ORG_SPAN_BROKEN: { status: 409, message: "联合党委涵盖的村移动后将不在同一乡镇，请先调整联合党委涵盖的村。" },
  ORG_SPAN_INVALID: { status: 400, message: "联合党委涵盖的村不正确。" },
  ORG_UNIT_NOT_FOUND: { status: 404, message: "该单位不存在或已撤销" },
  PARTY_GROUP_INVALID: { status: 400, message: "该党小组不属于所选支部，请重新选择（不分党小组可不选）。" },
  PHONE_INVALID: { status: 400, message: "手机号有误，请填写 11 位大陆手机号（如 13800001234），不知道可留空。" },
  ROSTER_EMPTY: { status: 400, message: "名单中没有党员数据，请在表头下方逐行填写后再上传。" },
  ROSTER_FILE_INVALID: { status: 415, message: "上传的文件不是 Excel（.xlsx）文件，请使用名单模板填写后上传。" },
  ROSTER_FILE_MISSING: { status: 400, message: "请选择要导入的 Excel 文件（表单字段 file）。" },
  ROSTER_FILE_UNREADABLE: { status: 400, message: "无法读取该 Excel 文件，请用 Excel 打开确认后另存为 .xlsx 再上传。" },
  ROSTER_HAS_ERRORS: { status: 409, message: "名单中有行有误，未导入任何数据。请按提示修改后重新上传，或选择“跳过有误的行”后导入其余的行。" },
  ROSTER_HEADER_INVALID: { status: 400, message: "表头不正确，请使用名单模板，第一行为表头。" },
  ROSTER_TOO_LARGE: { status: 400, message: "一次导入的行数过多，请分几次导入。" },
  STATUS_CHANGE_INVALID: { status: 400, message: "该党员目前的状态不能改为所选状态。" },
  STATUS_UNCHANGED: { status: 400, message: "该党员已是这个状态。" },
  TRANSFER_DESTINATION_REQUIRED: { status: 400, message: "请选择转入的党支部（支部编号、编码或名称）。" },
  TRANSFER_SAME_BRANCH: { status: 400, message: "该党员已在所选支部，无需转接。" },
  UNIT_CATEGORY_INVALID: { status: 400, message: "单位类别不正确（不填为默认）。" },
  UNIT_CODE_INVALID: { status: 400, message: "单位编码须为 1-32 位字母、数字、“-”或“_”，例如 T01-V03。" },
  UNIT_CODE_TAKEN: { status: 409, message: "该单位编码已被使用，请换一个编码。" },
  UNIT_INACTIVE: { status: 409, message: "该单位已撤销，请先恢复（active: true）再修改。" },
  UNIT_IS_OWN: { status: 403, message: "不能撤销您本人账号所在的单位，请由上级管理员操作。" },
  UNIT_KIND_INVALID: { status: 400, message: "单位类别与上级单位不符。" },
  UNIT_MOVE_INVALID: { status: 400, message: "不能把单位移到它自己或它的下级单位之下。" },
  UNIT_NAME_INVALID: { status: 400, message: "单位名称不正确。" },
  UNIT_NOT_EMPTY: { status: 409, message: "该单位还有下级单位、党员、群、诉求或干部账号，暂不能变动。" },
  UNIT_PARENT_INACTIVE: { status: 400, message: "上级单位已撤销。" },
  // ---- meetings, study sessions and check-in ----
  ALREADY_CHECKED_IN: { status: 409, message: "您已经签到了，无需请假。" },
  CHECKIN_CLOSED: { status: 409, message: "签到已经结束。" },
  CHECKIN_NOT_OPEN: { status: 409, message: "签到还没有开始，请到时再来签到。" },
  DURATION_INVALID: { status: 400, message: "会议时长应在 10 分钟到 12 小时之间。" },
  LEAVE_NOT_FOUND: { status: 404, message: "没有找到这条请假。" },
  MEETING_CANCELLED: { status: 409, message: "该会议已经取消了。" },
  MEETING_CLOSED: { status: 409, message: "该会议的签到已经结束。" },
  MEETING_NOT_FOUND: { status: 404, message: "会议不存在。" },
  MEMBER_INACTIVE: { status: 403, message: "您的党员信息目前不在支部名单中（如组织关系已转出），不能在小程序签到或请假；如有疑问请联系支部书记。" },
  MEMBER_NOT_LINKED: { status: 403, message: "您还没有绑定党员身份：请在小程序“绑定党员身份”中填写支部编码、姓名和手机号后四位完成绑定（支部编码可向支部书记索取），或请支部书记在群里为您“登记”。" },
  NOTICE_NOT_FOUND: { status: 404, message: "该通知不存在" },
  PLACE_TOO_LONG: { status: 400, message: "地点太长了，请控制在 100 个字以内。" },
  QR_LINK_EXPIRED: { status: 410, message: "签到已经结束，签到码链接已失效。" },
  QR_LINK_INVALID: { status: 403, message: "签到码链接无效，请在机器人私聊中重新发送“签到码”获取。" },
  QR_TOKEN_EXPIRED: { status: 400, message: "签到二维码已过期，请扫描屏幕上最新的二维码。" },
  QR_TOKEN_INVALID: { status: 400, message: "签到二维码无效，请重新扫描现场的二维码。" },
  QR_TOKEN_REQUIRED: { status: 400, message: "本次会议需要现场扫码签到，请扫描会场屏幕上的二维码。" },
  QR_TOKEN_WRONG_MEETING: { status: 400, message: "这个二维码不是本次会议的，请扫描本次会议现场的二维码。" },
  REASON_MISSING: { status: 400, message: "请写明理由。" },
  REASON_TOO_LONG: { status: 400, message: "理由太长了，请精简后再提交。" },
  TIME_HOUR_MISSING: { status: 400, message: "还没写几点钟。请写上具体时间，例如：明天19:30、11月28日 晚上7点半" },
  TIME_INVALID: { status: 400, message: "时间写得不对，请核对后重试。" },
  TIME_IN_PAST: { status: 400, message: "开始时间已经过去了，请写一个以后的时间。" },
  TIME_UNPARSEABLE: { status: 400, message: "没看懂时间。请把时间写在最前面，例如：明天19:30" },
  TOPIC_MISSING: { status: 400, message: "请写上学习主题，例如：发布学习 明天19:30 学习党章 村委会" },
  TOPIC_TOO_LONG: { status: 400, message: "主题太长了，请控制在 100 个字以内。" },
  WINDOW_INVALID: { status: 400, message: "签到时间窗口的分钟数超出允许范围。" },
  // ---- working-day calendar, 三会一课 and reports ----
  BULLETIN_UNIT_INVALID: { status: 400, message: "季通报按县（市）排名其下级单位，请选择县或市。" },
  COUNTY_NOT_FOUND: { status: 404, message: "还没有建立县级组织，无法生成季通报。" },
  DATE_INVALID: { status: 400, message: "日期无效，格式如 2024-07-01。" },
  NOTE_TOO_LONG: { status: 400, message: "说明请控制在 100 个字以内。" },
  OVERRIDE_NOT_FOUND: { status: 404, message: "该日期没有人工调整，无需删除。" },
  PERIOD_INVALID: { status: 400, message: "统计期间不正确。" },
  YEAR_INVALID: { status: 400, message: "年份应在 2004 到 2100 之间。" },
  // ---- chat groups, bot accounts, binding ----
  ACCOUNT_NOT_FOUND: { status: 404, message: "该机器人账号不存在" },
  ALREADY_LINKED: { status: 409, message: "您已登记过党员身份，无需重复登记。如信息有误，请联系支部书记。" },
  ARGUMENT_MISSING: { status: 400, message: "请在命令后写上需要的内容。" },
  BIND_CODE_BUSY: { status: 503, message: "暂时无法生成绑定码，请稍后重试" },
  BIND_CODE_EXPIRED: { status: 410, message: "该绑定码已过期（有效期 24 小时），请在管理后台重新生成绑定码。" },
  BIND_CODE_INVALID: { status: 404, message: "绑定码不正确，请核对后重新发送（绑定码由 6 位字母和数字组成，不区分大小写）。" },
  BIND_CODE_MEMBER_GONE: { status: 409, message: "该绑定码对应的党员已不在名单中，请在管理后台重新生成绑定码。" },
  BIND_CODE_MEMBER_NOT_ALLOWED: { status: 400, message: "该党员有管理后台账号，权限不低于生成绑定码的干部，不能通过绑定码登记。" },
  BIND_CODE_MEMBER_NOT_IN_UNIT: { status: 400, message: "所选党员不在该单位下属支部的在册名单中，请重新选择。" },
  BIND_CODE_MEMBER_NOT_ON_ROSTER: { status: 400, message: "所选党员不在该支部的在册名单中，请重新选择。" },
  BIND_CODE_MEMBER_REQUIRED: { status: 400, message: "请选择由哪位党员使用此绑定码。" },
  BIND_CODE_NOT_FOUND: { status: 404, message: "该绑定码不存在" },
  BIND_CODE_OTHER_MEMBER: { status: 409, message: "该绑定码是为其他党员生成的，请由该党员本人发送，或在管理后台为您重新生成绑定码。" },
  BIND_CODE_REVOKED: { status: 410, message: "该绑定码已作废，请向上级或在管理后台重新生成绑定码。" },
  BIND_CODE_UNIT_INACTIVE: { status: 409, message: "该单位已撤销，不能再绑定群。" },
  BIND_CODE_UNIT_KIND: { status: 400, message: "党小组不单独绑定群，请为其所属党支部生成绑定码。" },
  BIND_CODE_USED: { status: 409, message: "该绑定码已被使用，每个绑定码只能使用一次。如需再绑定，请在管理后台重新生成绑定码。" },
  GROUP_ALREADY_BOUND: { status: 409, message: "本群已绑定到其他单位。如需更换，请支部书记先发送“解绑”。" },
  GROUP_NOT_BOUND: { status: 409, message: "本群还没有绑定支部。请支部书记在群里发送“绑定 绑定码”（绑定码在管理后台生成）；已登记的书记也可以发送“绑定支部 支部编码”。" },
  GROUP_NOT_FOUND: { status: 404, message: "该群不存在" },
  LOGIN_NOT_NEEDED: { status: 409, message: "该账号当前无需扫码登录" },
  LOGIN_QR_EXPIRED: { status: 409, message: "登录二维码已过期。机器人会自动生成新的二维码，请稍候约半分钟后刷新本页再扫码。" },
  MEMBER_AMBIGUOUS: { status: 400, message: "名单中有同名的党员，请在姓名后加上手机后四位。" },
  NAME_INVALID: { status: 400, message: "姓名格式不对，请核对。" },
  PHONE_TAIL_INVALID: { status: 400, message: "手机后四位应为 4 位数字。" },
  SELF_LINK_CADRE_PRIVATE: { status: 403, message: "干部请由上级在管理后台或支部书记为您登记。" },
  UNIT_AMBIGUOUS: { status: 400, message: "有多个单位叫这个名称，请改用单位编码。" },
  UNIT_NOT_A_BRANCH: { status: 400, message: "该单位不是党支部，请填写您所在党支部的编码。" },
  UNIT_NOT_FOUND: { status: 404, message: "没有找到该单位，请核对编码或名称后重试。" },
  // ---- complaints (民情诉求) ----
  CATEGORY_TOO_LONG: { status: 400, message: "类别太长了，请精简后再提交。" },
  COMMENT_TOO_LONG: { status: 400, message: "评价太长了，请精简后再提交。" },
  COMPLAINT_ALREADY_CLAIMED: { status: 409, message: "该诉求已经有人认领了（首问负责），无需重复认领。" },
  COMPLAINT_ALREADY_RATED: { status: 409, message: "该诉求已经评价过了，感谢您的反馈。" },
  COMPLAINT_CHANGED: { status: 409, message: "该诉求刚刚被其他人处理了，请查看最新状态后重试。" },
  COMPLAINT_CLOSED: { status: 409, message: "该诉求已结案或已撤回，不能再操作。" },
  COMPLAINT_NOT_CLAIMED: { status: 409, message: "该诉求还没有人认领，请先认领。" },
  COMPLAINT_NOT_FOUND: { status: 404, message: "没有找到该诉求，请核对编号。" },
  COMPLAINT_NOT_REOPENABLE: { status: 409, message: "只有第一次评价“不满意”的诉求才能重新办理。" },
  COMPLAINT_NOT_RESOLVED: { status: 409, message: "该诉求还没有办结。" },
  COMPLAINT_NUMBER_INVALID: { status: 400, message: "这不是诉求编号，编号形如 LX20261125-0007。" },
  COMPLAINT_RESOLVED: { status: 409, message: "该诉求已经办结了。" },
  CONTENT_MISSING: { status: 400, message: "请写上您要反映的内容，例如：反映 村口路灯坏了，晚上看不见路" },
  CONTENT_TOO_LONG: { status: 400, message: "内容太长了，详情可以分几次用“补充 编号 内容”发送。" },
  EXTENSION_DAYS_INVALID: { status: 400, message: "延期的工作日数不正确，例如：延期 LX20261125-0007 3 需等配件到货" },
  EXTENSION_PENDING: { status: 409, message: "已有一个延期申请在等待审批。" },
  FILER_REQUIRED: { status: 400, message: "无法确认反映人的身份。" },
  INFO_MISSING: { status: 400, message: "请写上补充的内容，例如：补充 LX20261125-0007 路灯在村委会东边" },
  INFO_TOO_LONG: { status: 400, message: "补充内容太长了，请精简后再发送。" },
  LOCATION_TOO_LONG: { status: 400, message: "地点太长了，请精简后再提交。" },
  NOTHING_TO_CHANGE: { status: 400, message: "没有需要修改的内容。" },
  NOTHING_TO_ESCALATE: { status: 409, message: "该诉求无需上报。" },
  NOTHING_TO_RATE: { status: 404, message: "您没有待评价的诉求。" },
  NOTHING_TO_REMIND: { status: 409, message: "该诉求无需催办。" },
  NOT_APPROVER: { status: 403, message: "延期申请由上一级审批（支部的诉求由乡镇，乡镇的诉求由县）。" },
  NOT_OWNER: { status: 403, message: "该诉求由其他干部认领（首问负责），只有认领人或上级可以办理。" },
  NO_EXTENSION_PENDING: { status: 409, message: "该诉求没有待审批的延期申请。" },
  PHOTO_MISSING: { status: 400, message: "请选择要上传的照片。" },
  PHOTO_NOT_FOUND: { status: 404, message: "没有找到这张照片。" },
  REPLY_MISSING: { status: 400, message: "请写上回复内容，例如：回复 LX20261125-0007 明天上午安排电工上门" },
  REPLY_TOO_LONG: { status: 400, message: "回复内容太长了，请精简后再发送。" },
  RESULT_MISSING: { status: 400, message: "请写上办理结果，例如：办结 LX20261125-0007 路灯已修好" },
  RESULT_TOO_LONG: { status: 400, message: "办理结果太长了，请精简后再发送。" },
  SAME_UNIT: { status: 400, message: "该诉求已经由这个单位办理，无需转办。" },
  SELF_APPROVAL: { status: 403, message: "不能审批自己的延期申请，请由再上一级审批。" },
  TOO_MANY_PHOTOS: { status: 409, message: "照片数量已达上限。" },
  UNIT_CANNOT_HANDLE: { status: 400, message: "该单位不能承办诉求，请转给党支部、乡镇或县。" },
  UNIT_UNKNOWN: { status: 400, message: "暂时无法确定由哪个村（社区）办理您的诉求。请在您所在村的微信群或QQ群里发送“反映 内容”，或先发送“我是 姓名 手机后四位”登记。" },
  // ---- county broadcasts ----
  BROADCAST_ALREADY_DECIDED: { status: 409, message: "该广播已被审批，无需再审批" },
  BROADCAST_ATTACHMENT_TYPE_NOT_ALLOWED: { status: 415, message: "广播附件只能是图片（JPEG、PNG、GIF、WebP、HEIC）或文档（PDF、Word、Excel、PowerPoint）" },
  BROADCAST_NOT_CANCELLABLE: { status: 409, message: "该广播不能再取消" },
  BROADCAST_NOT_FOUND: { status: 404, message: "找不到该广播，请核对编号" },
  BROADCAST_NOT_PAUSED: { status: 409, message: "只有已暂停的广播可以恢复" },
  BROADCAST_NOT_RETRYABLE: { status: 409, message: "该广播不能重发" },
  BROADCAST_NOT_SENDING: { status: 409, message: "只有发送中的广播可以暂停" },
  BROADCAST_NUMBER_INVALID: { status: 400, message: "这不是广播编号，编号形如 GB20261130-0007" },
  BROADCAST_REASON_REQUIRED: { status: 400, message: "驳回时请写明理由" },
  BROADCAST_SELF_APPROVAL: { status: 403, message: "不能审批自己起草的广播，请由另一位县级管理员审批" },
  BROADCAST_SEND_TIME_PAST: { status: 400, message: "定时发送的时间已经过去，请选择将来的时间（或不填，批准后立即发送）" },
  BROADCAST_TARGET_EMPTY: { status: 400, message: "请至少选择一个发送对象" },
  BROADCAST_TARGET_NO_GROUPS: { status: 400, message: "该发送范围内没有可发送的群，请调整范围" },
  BROADCAST_TARGET_UNKNOWN: { status: 400, message: "无法识别的发送范围：可选 全县(all)、乡镇(towns)、群类别(kinds)、指定群(groups)" },
  BROADCAST_TEXT_EMPTY: { status: 400, message: "广播内容不能为空，请填写要发送的内容" },
  BROADCAST_TEXT_TOO_LONG: { status: 400, message: "广播内容过长，请精简内容或分成几次广播" },
  COUNTY_ADMIN_REQUIRED: { status: 403, message: "只有县级管理员可以进行此操作" },
  // ---- files and uploads ----
  FILE_EMPTY: { status: 400, message: "文件是空的，请重新选择" },
  FILE_TOO_LARGE: { status: 413, message: "文件太大了，请压缩后再上传" },
  FILE_TYPE_NOT_ALLOWED: { status: 415, message: "只能上传图片（JPEG、PNG、GIF、WebP 或 HEIC 格式）" },
  INVALID_STORAGE_KEY: { status: 400, message: "文件名不合法" },
  STORAGE_UNAVAILABLE: { status: 503, message: "文件存储暂时不可用，请稍后再试" },
  // ---- WeChat mini-program login ----
  MP_CODE_INVALID: { status: 400, message: "登录凭证无效或已过期，请重新进入小程序" },
  MP_MISCONFIGURED: { status: 503, message: "小程序登录配置有误，请联系管理员" },
  MP_NOT_CONFIGURED: { status: 503, message: "小程序登录暂未开通，请联系管理员" },
  MP_RATE_LIMITED: { status: 429, message: "登录过于频繁，请一分钟后再试" },
  MP_USER_BLOCKED: { status: 403, message: "该微信账号暂时无法登录，请通过微信安全中心处理后重试" },
  WECHAT_BAD_RESPONSE: { status: 502, message: "微信服务返回异常，请稍后再试" },
  WECHAT_BUSY: { status: 503, message: "微信服务繁忙，请稍后再试" },
  WECHAT_ERROR: { status: 502, message: "微信登录失败，请稍后再试" },
  WECHAT_UNAVAILABLE: { status: 503, message: "暂时无法连接微信服务，请稍后再试" },
  // ---- chat commands ----
  BRANCH_INACTIVE: { status: 400, message: "该支部已撤销，没有三会一课记录。" },
  BRANCH_REQUIRED: { status: 400, message: "请写明支部编码或名称，例如：三会一课 C01-T01-V01-B" },
  BROADCAST_NUMBER_REQUIRED: { status: 400, message: "请写上广播编号，例如：批准广播 GB20261130-0007" },
  CADRE_GROUP_ONLY: { status: 403, message: "月报告请私聊我查看，或在乡镇、县的干部群里发送。" },
  COMPLAINT_NUMBER_REQUIRED: { status: 400, message: "请写上诉求编号，编号形如 LX20261125-0007。" },
  FIELD_REQUIRED: { status: 400, message: "请写明要改什么，例如：修改学习 时间 明天20:00、修改学习 地点 村委会二楼、修改学习 主题 学习党章" },
  MENTION_REQUIRED: { status: 400, message: "请 @ 一位群成员。" },
  NOT_LINKED: { status: 400, message: "您还没有登记党员身份，请先在支部群里发送“我是 姓名 手机后四位”。" },
  TOWN_REQUIRED: { status: 400, message: "月报告按乡镇查看，例如：本月报告 东山镇" },
  TYPE_INVALID: { status: 400, message: "会议类型不正确。" },
  UNIT_REQUIRED: { status: 400, message: "请写明单位（编码或名称）。" },
} as const satisfies Record<string, { status: ErrorStatus; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes answered with `status` (e.g. for typing a helper that may only refuse with a 409). */
export type ErrorCodeWithStatus<S extends ErrorStatus> = { [C in ErrorCode]: (typeof ERRORS)[C]["status"] extends S ? C : never }[ErrorCode];

export interface FieldIssue {
  /** Where the bad value was, e.g. "body.username" or "query.pageSize". */
  field: string;
  message: string;
}

export class AppError extends Error {
  override readonly name = "AppError";
  readonly status: ErrorStatus;
  constructor(
    readonly code: ErrorCode,
    /** Safe to show to the user (Chinese); the catalog's default when omitted. */
    message?: string,
    /** Extra fields merged into the error body (e.g. `fields`, `checks`, `retryAfterSeconds`). Must be client-safe. */
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message ?? ERRORS[code].message, options);
    this.status = ERRORS[code].status;
  }

  /** Seconds for a Retry-After header, when the error says when to come back. */
  get retryAfterSeconds(): number | undefined {
    const v = this.details?.retryAfterSeconds;
    return typeof v === "number" ? v : undefined;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

export const validationFailed = (fields: FieldIssue[]) => new AppError("VALIDATION_FAILED", undefined, { fields });

// ---- normalisation ----

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
}

/** Zod 4 errors (ZodError and core $ZodError) carry `issues`; checked structurally so both classes qualify. */
function zodIssues(e: unknown): ZodLikeIssue[] | null {
  if (!e || typeof e !== "object") return null;
  const err = e as { name?: unknown; issues?: unknown };
  if ((err.name === "ZodError" || err.name === "$ZodError") && Array.isArray(err.issues)) return err.issues as ZodLikeIssue[];
  return null;
}

export function fieldPath(prefix: string | undefined, path: PropertyKey[]): string {
  const parts = [prefix, ...path.map(String)].filter((p): p is string => !!p);
  return parts.join(".") || "(根)";
}

/** Zod issues as per-field problems; `prefix` says where the value came from ("body", "query", ...). */
export function zodFieldIssues(issues: ZodLikeIssue[], prefix?: string): FieldIssue[] {
  return issues.map((i) => ({ field: fieldPath(prefix, i.path), message: i.message }));
}

// Connection-level failures from pg / the Prisma driver adapter / Prisma itself: the database (not the request) is
// the problem, so the client gets a retryable 503 instead of a 500. Raw errno codes are attributed to the database
// because it is the only network dependency whose errors reach here unwrapped (WeChat calls wrap their own).
const PG_CONNECTION_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EAI_AGAIN"]);
// SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown / cannot connect now), 53300 (too many connections).
const PG_CONNECTION_SQLSTATES = /^(08...|57P0[123]|53300)$/;
// Prisma P1xxx are connection/initialisation problems; P2024 is "timed out fetching a connection from the pool".
const PRISMA_CONNECTION_CODES = /^(P1\d{3}|P2024)$/;
const ADAPTER_CONNECTION_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "DatabaseDoesNotExist",
  "DatabaseAccessDenied",
  "AuthenticationFailed",
  "TransactionAlreadyClosed",
]);
const PG_CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

export function isDatabaseConnectionError(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== "object" || depth > 4) return false;
  const err = e as { name?: string; code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: any; errors?: unknown };
  const code = typeof err.code === "string" ? err.code : "";
  if (err.name === "PrismaClientInitializationError") return true;
  if (err.name === "PrismaClientKnownRequestError" && PRISMA_CONNECTION_CODES.test(code)) return true;
  if (PG_CONNECTION_ERRNOS.has(code) || PG_CONNECTION_SQLSTATES.test(code)) return true;
  if (typeof err.kind === "string" && ADAPTER_CONNECTION_KINDS.has(err.kind)) return true;
  if (typeof err.message === "string" && PG_CONNECTION_MESSAGES.test(err.message)) return true;
  const adapterError = err.meta?.driverAdapterError;
  if (adapterError && isDatabaseConnectionError(adapterError, depth + 1)) return true;
  // DriverAdapterError keeps the classified failure in `cause` ({ kind: "DatabaseNotReachable", ... }).
  if (err.cause && isDatabaseConnectionError(err.cause, depth + 1)) return true;
  // AggregateError from net.connect when every resolved address refused.
  if (Array.isArray(err.errors)) return err.errors.some((x) => isDatabaseConnectionError(x, depth + 1));
  return false;
}

/**
 * Maps anything thrown to an AppError. Unknown errors become 500 INTERNAL_ERROR with a generic message; the
 * original stays in `cause` for the server-side log only.
 */
export function normalizeError(e: unknown): AppError {
  if (e instanceof AppError) return e;

  const issues = zodIssues(e);
  if (issues) return validationFailed(zodFieldIssues(issues));

  const err = (e && typeof e === "object" ? e : {}) as { name?: string; code?: unknown; status?: unknown; type?: unknown; meta?: any };

  // Prisma known request errors that are the caller's fault rather than ours.
  if (err.name === "PrismaClientKnownRequestError") {
    if (err.code === "P2002") return new AppError("CONFLICT", "数据已存在，不能重复创建", undefined, { cause: e });
    if (err.code === "P2025") return new AppError("NOT_FOUND", "请求的内容不存在或已被删除", undefined, { cause: e });
    if (err.code === "P2003") return new AppError("CONFLICT", "该数据仍被其他记录引用，无法完成操作", undefined, { cause: e });
    // A number (usually an id) larger than its column holds: no such record can exist, and the caller sent it.
    if (err.code === "P2020" || (err.code === "P2010" && err.meta?.driverAdapterError?.cause?.kind === "ValueOutOfRange")) return new AppError("VALUE_OUT_OF_RANGE", undefined, undefined, { cause: e });
  }
  if (isDatabaseConnectionError(e)) return new AppError("SERVICE_UNAVAILABLE", "数据库暂时不可用，请稍后再试", undefined, { cause: e });

  // HTTP body errors (raw-body / co-body / http-errors) carry `status` and `type`.
  const status = typeof err.status === "number" ? err.status : undefined;
  if (err.type === "entity.too.large" || status === 413) {
    return new AppError("PAYLOAD_TOO_LARGE", undefined, undefined, { cause: e });
  }
  if (err.type === "encoding.unsupported" || err.type === "charset.unsupported" || status === 415) {
    return new AppError("UNSUPPORTED_MEDIA_TYPE", "不支持的请求内容格式或编码，请使用 UTF-8 编码的 JSON", undefined, { cause: e });
  }
  if (err.type === "request.aborted") return new AppError("REQUEST_ABORTED", undefined, undefined, { cause: e });
  if (err.type === "request.size.invalid") return new AppError("BAD_REQUEST", "请求长度与声明不符", undefined, { cause: e });
  // co-body marks JSON.parse / strict-mode failures with status 400 on a SyntaxError.
  if (e instanceof SyntaxError && status === 400) return new AppError("INVALID_JSON", undefined, undefined, { cause: e });

  return new AppError("INTERNAL_ERROR", undefined, undefined, { cause: e });
}

/** The JSON body every error answer has: {error:{code, message, requestId?, ...details}}. */
export function errorBody(err: AppError, requestId?: string) {
  return { error: { ...err.details, code: err.code, message: err.message, ...(requestId ? { requestId } : {}) } };
}
