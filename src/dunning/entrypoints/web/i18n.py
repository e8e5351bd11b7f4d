"""Chinese first, English by a switch: page strings are written in Chinese and looked up here for English.

``_("批次")`` renders 批次 in Chinese and "Campaigns" in English. A string without an English entry shows in
Chinese (never blank); ``tests/web/test_i18n.py`` fails on any page string or label missing here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dunning.entrypoints.web.agency_i18n import AGENCY_EN

EN: dict[str, str] = {
    # layout and navigation
    "催收短信平台": "Collection SMS", "退出": "Sign out", "导航": "Navigation", "仪表盘": "Dashboard",
    "导入": "Imports", "模板": "Templates", "批次": "Campaigns", "短信查询": "Messages", "审计日志": "Audit log",
    "用户": "Users", "来电核验": "Hotline check", "错误代码": "Error code", "返回仪表盘": "Back to the dashboard",
    "« 最新": "« Newest", "下一页 »": "Next page »", "已到最后一页": "Last page",
    # roles
    "管理员": "Administrator", "策略员": "Strategist", "合规审核": "Compliance", "运营": "Operator",
    "只读": "Viewer", "委外机构": "Agency",
    # campaign states
    "草稿": "Draft", "已计划": "Planned", "试发中": "Piloting", "试发已批准": "Pilot approved", "发送中": "Sending",
    "已暂停": "Paused", "已完成": "Completed", "已取消": "Cancelled",
    # message states
    "待发送": "Planned", "已抑制": "Suppressed", "排队中": "Queued", "提交中": "Submitting", "已提交": "Submitted",
    "已送达": "Delivered", "失败": "Failed", "过期": "Expired", "待人工核查": "Held for review",
    # suppression reasons
    "未匹配任何分群": "No segment matched", "对照组（不发送）": "Hold-out group (not sent)",
    "禁止联系名单": "Do-not-contact list", "已退订": "Opted out", "存在争议": "In dispute", "已还款": "Repaid",
    "超出联系频次上限": "Contact limit reached", "合规检查未通过": "Blocked by compliance lint",
    "超出发送时段": "Outside the send window", "节假日不发送": "Holiday: not sent", "批次已取消": "Campaign cancelled",
    # health, jobs, checks, template states, severities
    "正常": "OK", "波动": "Degraded", "故障": "Failing", "空闲": "Idle", "已停用": "Disabled",
    "进行中": "Running", "送达率（不低于）": "Delivery rate (at least)",
    "合规拦截条数（不超过）": "Compliance blocks (at most)", "退订率（不超过）": "Opt-out rate (at most)",
    "审核中": "In review", "已批准": "Approved", "拦截": "Block", "警告": "Warning", "提示": "Info",
    # dashboard
    "去处理": "Handle it", "今日及进行中的批次": "Today's and active campaigns", "今日已提交": "Submitted today",
    "今日已送达": "Delivered today", "今日导入": "Imports today", "今天还没有批次。": "No campaign today yet.",
    "先导入当日账户": "Import today's accounts first", "再": "then", "创建批次": "plan a campaign",
    "通道健康": "Channel health", "近一小时": "last hour", "类型": "Kind", "速率上限": "Rate limit",
    "送达": "Delivered", "条/秒": "msg/s", "名称": "Name", "状态": "State", "进度": "Progress",
    "业务日期": "Business date", "通道": "Channel",
    # imports
    "导入当日账户": "Import today's accounts", "上传文件": "Upload files",
    "支持 CSV（UTF-8 / GBK / GB18030）、Excel（.xlsx）、Parquet。多个文件共同构成一个快照；同一文件同一业务日期不会重复导入。每一行被拒绝的记录都会说明原因。":
        "CSV (UTF-8 / GBK / GB18030), Excel (.xlsx) and Parquet. Several files make one snapshot; the same file "
        "for the same business date is never imported twice. Every rejected row says why.",
    "账户文件": "Account files", "编码": "Encoding", "自动识别": "Detect", "禁止联系名单（可选，每行一个号码）":
        "Do-not-contact list (optional, one number per line)", "上传并导入": "Upload and import",
    "导入记录": "Imports", "文件": "Files", "行数": "Rows", "接受": "Accepted", "拒绝": "Rejected",
    "操作人": "By", "时间": "Time", "还没有导入记录。": "Nothing imported yet.", "读取行数": "Rows read",
    "拒绝原因": "Reject reasons", "原因代码": "Code", "示例说明": "Example", "下载拒绝明细 CSV": "Download rejects (CSV)",
    "下载 Excel": "Download Excel", "没有被拒绝的行。": "No row was rejected.", "拒绝行示例": "Rejected rows",
    "前 20 行；完整列表见下载文件": "first 20; the download has them all", "行号": "Row", "原因": "Reason",
    "说明": "Explanation", "原始内容": "Raw row", "下一步": "Next step", "用这批账户创建批次": "Plan a campaign on these accounts",
    # jobs
    "准备中……": "Preparing…", "查看结果": "See the result",
    "完成后页面会自动跳转。可以离开本页，任务会在后台继续。": "This page moves on when the job is done. You may leave; the job continues in the background.",
    # campaigns
    "按策略创建批次": "Plan a campaign from a strategy", "账户快照（导入批次）": "Account snapshot (import)",
    "个账户": "accounts", "发送通道": "Channel", "策略文件 YAML（可选；不上传则使用内置中国策略）":
        "Strategy YAML (optional; the bundled China strategy otherwise)", "生成计划": "Plan",
    "逐账户分群、选模板、检查频次与合规，生成每条短信或抑制原因；此时不会发送任何短信。":
        "Segments every account, picks templates, checks contact limits and compliance, and writes each message "
        "or its suppression reason. Nothing is sent yet.",
    "还没有导入账户。": "No accounts imported yet.", "全部批次": "All campaigns", "待发送总数": "To send",
    "还没有批次。": "No campaigns yet.", "策略": "Strategy", "创建人": "Planned by", "试发批准人": "Pilot approved by",
    "暂停原因": "Pause reason", "进行中……": "in progress…", "开始试发": "Start the pilot",
    "批准全量发送": "Approve the full send", "试发未达标": "The pilot did not pass", "全量发送": "Send to all",
    "确认开始全量发送？": "Start sending to everyone?", "暂停": "Pause", "恢复发送": "Resume",
    "取消批次": "Cancel campaign", "取消后未发送的短信都不会再发送，确认取消？":
        "After cancelling, nothing unsent will be sent. Cancel the campaign?",
    "导出 Excel 报告": "Excel report", "查看短信": "Messages", "发送进度": "Progress",
    "通道已受理": "Accepted by channel", "失败/过期": "Failed/expired", "每秒 提交/送达/失败": "per second: sent/delivered/failed",
    "试发审核": "Pilot review", "试发进行中": "Pilot running", "达标，可以全量发送": "Passed: may send to all",
    "未达标，不能全量发送": "Did not pass: no full send", "样本": "Sample",
    "审批须由试发人以外的合规审核人完成（四眼原则）。": "A compliance reviewer other than whoever ran the pilot approves it (four eyes).",
    "检查项": "Check", "实际": "Actual", "阈值": "Threshold", "结果": "Result", "通过": "Pass", "未通过": "Fail",
    "短信样例": "Rendered samples", "每个分群 × 步骤 × 变体一条": "one per segment × step × variant",
    "（试发样本）": " (pilot sample)", "详情": "Details", "没有可发送的短信。": "No message to send.",
    "发送漏斗": "Funnel", "尚未导入还款数据": "No repayments imported yet", "按分群": "By segment",
    "按变体": "By variant", "按模板": "By template", "抑制原因": "Suppressed by reason", "无": "None",
    "合规拦截规则": "Compliance rules that blocked", "今日无需提醒的账户": "Accounts with no reminder due today",
    "计划发送": "Planned",
    "草稿：计划尚未完成。": "Draft: planning is not finished.",
    "下一步：运营人员开始试发（按分群与变体分层抽样，只发送样本）。":
        "Next: an operator starts the pilot (a sample stratified by segment and variant).",
    "下一步：由试发人以外的合规审核人查看样例与试发送达情况，达标后批准全量发送（四眼原则）。":
        "Next: a compliance reviewer other than the pilot's sender reviews samples and delivery, then approves (four eyes).",
    "下一步：运营人员开始全量发送。": "Next: an operator starts the full send.",
    "发送中：可随时暂停；超出发送时段的短信不会延后发送，而是等待下一个时段或过期。":
        "Sending: pause at any time. Messages are never sent outside the window; they wait or expire.",
    "已暂停：恢复后从尚未发送的短信继续，已发送的不会重发。":
        "Paused: resuming continues with what is unsent; nothing is sent twice.",
    "已完成：查看发送漏斗，导出 Excel 报告。": "Completed: see the funnel, export the Excel report.",
    "已取消：未发送的短信不会再发送。": "Cancelled: nothing unsent will be sent.",
    # messages
    "短信": "Message", "内容": "Text", "（未生成内容）": "(no text)", "试发": "Pilot", "手机号": "Phone",
    "分群/步骤": "Segment/step", "尝试次数": "Attempts", "账户": "Account", "借款编号": "Loan id", "姓名": "Name",
    "应还金额": "Amount due", "到期日": "Due date", "产品": "Product", "完整记录": "Full history",
    "查询": "Search", "清除": "Clear", "手机号按最小必要原则掩码显示。": "Phone numbers are masked (minimum necessary).",
    "提交时间": "Submitted", "没有找到短信。请核对借款编号或手机号。": "No message found. Check the loan id or phone number.",
    "字": "chars", "条计费": "billed parts", "全部": "All",
    # audit
    "动作": "Action", "对象": "Entity", "对象编号": "Entity id", "起始日期": "From", "截止日期": "To",
    "筛选": "Filter", "变更": "Change", "没有符合条件的记录。": "No matching events.",
    # templates
    "通道模板编号": "Provider template codes", "未登记": "none registered", "模板编号": "Template code",
    "登记编号": "Register code",
    "语气": "Tone", "阶段": "Stage", "合规配置": "Policy profile", "生效版本": "Version in use", "编辑": "Edit",
    "正文": "Text", "变量（每行一个：名称: 类型）": "Variables (one per line: name: type)",
    "保存为新草稿": "Save as a new draft", "合规检查与预览": "Compliance check and preview", "正在检查……": "Checking…",
    "版本历史": "Versions", "版本": "Version", "作者": "Author", "审核人": "Reviewer", "创建时间": "Created",
    "批准时间": "Approved", "操作": "Actions", "条检查结果": "findings", "提交审核": "Submit for review",
    "作者不能批准自己的版本": "Authors cannot approve their own version", "批准": "Approve", "退回": "Send back",
    "停用后该版本不再用于新批次，确认？": "A retired version is not used by new campaigns. Retire it?", "停用": "Retire",
    "模板使用 ${变量} 占位符；已批准的版本不可修改，修改会生成新版本，须经作者以外的合规审核人批准后才会用于发送。":
        "Templates use ${variable} placeholders. An approved version never changes: an edit makes a new version, "
        "used only after a compliance reviewer other than its author approves it.",
    "代码": "Code", "最新版本": "Latest version", "还没有模板。首次创建批次时会载入内置模板。":
        "No templates yet; the bundled ones load when the app starts.",
    "未发现合规问题。": "No compliance finding.", "最长": "longest", "有阻断项": "has blocking findings",
    "个阻断项": "blocking findings", "预览（样例账户）": "Preview (sample accounts)",
    # holiday calendar
    "节假日日历": "Holiday calendar", "导入一年的节假日安排": "Import a year's holiday schedule",
    "国务院公布新一年的节假日安排后即可导入：每行一个假期（holiday,节日,开始,结束）或一个调休上班日（workday,节日,日期）。导入的年份优先于内置数据；每次导入都记入审计日志。":
        "Import the schedule as soon as the State Council publishes it: one holiday per line "
        "(holiday,name,first,last) or one make-up working day (workday,name,day). An imported year wins over the "
        "shipped data; every import is in the audit log.",
    "日历文件（CSV）": "Calendar file (CSV)", "或粘贴内容": "or paste it", "校验并导入": "Check and import",
    "年份": "Year", "来源": "Source", "导入数据": "Imported", "内置数据": "Shipped", "节日": "Holiday", "日期": "Date",
    "天数": "Days", "放假": "Holiday", "调休上班": "Make-up working day",
    "这一年还没有节假日数据。": "No holiday data for this year yet.", "已有年份": "Years with data",
    # users
    "用户与角色": "Users and roles", "新的 API 令牌（只显示这一次，请立即保存）": "New API token (shown once: save it now)",
    "添加用户": "Add a user", "用户名": "User name", "显示名": "Display name", "角色": "Role",
    "委外机构（仅委外机构角色）": "Agency (agency role only)", "初始密码（至少 8 位）": "Initial password (8+ characters)",
    "添加": "Add", "令牌": "Tokens", "已锁定": "Locked", "未设密码": "No password", "新密码": "New password",
    "重设密码": "Reset password", "解锁": "Unlock", "生成 API 令牌": "New API token", "吊销令牌": "Revoke tokens",
    "启用": "Enable",
    # API reference
    "参数": "Parameters", "必填": "required", "请求体": "Request body", "响应": "Responses", "数据结构": "Schemas",
    # login
    "登录": "Sign in", "密码": "Password",
    "请使用管理员分配的账号登录。连续多次输错密码后需稍候再试。":
        "Sign in with the account your administrator gave you. After repeated wrong passwords, wait a little "
        "before trying again.",
    # held messages (issue 15)
    "暂扣短信": "Held messages",
    "条：发送结果未知，系统不会自动重发。请先在 SMSC/通道侧核实，再处理（须填写原因，写入审计）。":
        "with an unknown send outcome; they are never resent automatically. Check with the SMSC/provider first, "
        "then resolve them (a reason is required and audited).",
    "确认处理全部暂扣短信？": "Resolve all held messages?", "已核实发出：记为已提交": "Checked, it went out: mark as sent",
    "已核实未发出：重新排队": "Checked, it did not: queue again", "原因（必填）": "Reason (required)",
    "处理暂扣短信": "Resolve held messages",
    "由合规审核人或管理员处理：dunning messages held / resolve":
        "Resolved by compliance or an administrator: dunning messages held / resolve",
    # lists: filters, totals, pages, exports; replies inbox; payments import (console #19)
    "« 上一页": "« Previous", "分页": "Pages", "共 {n} 条": "{n} in total", "第 {a}–{b} 条": "rows {a}–{b}",
    "第 {p} / {q} 页": "page {p} of {q}", "导出当前筛选结果": "Export these results", "分群": "Segment",
    "回复": "Replies", "类别": "Class", "对应短信": "Answers a message", "已对应": "Matched to a message",
    "未对应到短信": "Matched to no message", "有回复": "Has a reply", "没有符合条件的回复。": "No matching reply.",
    "没有符合条件的短信。": "No matching message.", "返回": "Back",
    "任务未完成：请按上面的提示修改后重新提交。": "The job did not finish: fix what the message above says and submit again.",
    "列映射文件（可选，YAML；表头与标准列名不同时使用）":
        "Column mapping (optional, YAML; when the headers differ from the standard names)",
    "导入还款记录": "Import payments", "还款文件": "Payment files", "上传并导入还款": "Upload and import payments",
    "借款编号、还款金额、还款时间（中英文表头均可）。计划时与每批发送前都会核对，已还清的借款不再提醒；同一文件不会重复导入。":
        "Loan id, amount paid and time of payment (Chinese or English headers). Planning and every send batch "
        "check them: a loan paid in full gets no more reminders. The same file is never imported twice.",
    "还款记录已入库：计划时与每批发送前都会核对，已还清的借款不再提醒。":
        "Payments stored: planning and every send batch check them; a loan paid in full gets no more reminders.",
    "这些文件此前已经导入过（本页即当时的导入），没有重复导入。":
        "These files were imported before (this page is that import); nothing was imported twice.",
    "账户导入": "Accounts", "还款导入": "Payments", "退订": "Opt-out", "争议": "Dispute", "承诺还款": "Promise to pay",
    "其他": "Other", "必填项为空": "Required field empty", "手机号无效": "Invalid phone", "非手机号": "Not a mobile",
    "金额无效": "Invalid amount", "无应还金额": "Nothing due", "日期无效": "Invalid date",
    "重复且内容冲突": "Conflicting duplicate", "重复行": "Duplicate row",
    "新建模板": "New template", "HTML 报告": "HTML report",
    "今天没有发往本机构账户的批次。": "No campaign reaches your agency's accounts today.",
    "批次 #{n}": "Campaign #{n}", "导入 #{n}": "Import #{n}", "短信 #{n}": "Message #{n}",
    "趋势": "Trends", "跨批次趋势（最近 30 / 90 天）": "Trends across campaigns (last 30 / 90 days)", "跨批次：送达率、退订率、争议率、还款率": "Across campaigns: delivery, opt-out, dispute and repayment rates",
    "最近 {n} 天": "Last {n} days", "按日期": "By day", "已发送": "Sent", "送达率": "Delivery rate",
    "退订率": "Opt-out rate", "争议率": "Dispute rate", "还款率": "Repayment rate",
    "这段时间内没有已发送的短信。": "No message was sent in this period.",
    "送达率 = 已送达 ÷ 已发送；退订率、争议率、还款率（送达后 7 天内）均以已送达为分母。每个比率都由右侧的合计算出，不是日比率的平均。":
        "Delivery rate = delivered ÷ sent; opt-out, dispute and repayment (within 7 days of delivery) rates are per "
        "delivered message. Every rate comes from the totals beside it, never an average of daily rates.",
    "新模板先存为草稿：在模板页面检查合规与预览后提交审核。":
        "A new template starts as a draft: check compliance and the preview on its page, then submit it for review.",
    # borrower cases (queue, case page, labels)
    "案件": "Cases", "案件编号": "Case number", "24小时内到期": "Due within 24 h", "7天内到期": "Due within 7 days",
    "仅超时": "Overdue only", "今天到期": "Due today", "分派": "Assign", "分派选中案件给": "Assign the selected cases to",
    "到期": "Due", "到期时间": "Due", "办结时限": "Answer due", "受理时限": "Acknowledge by", "已受理": "acknowledged",
    "团队": "Team", "处理人": "Owner", "处理结果": "Outcome", "备注": "Notes", "添加备注": "Add note",
    "已超时": "Overdue", "未结案": "Open", "开立": "Open", "开立时间": "Opened", "开立案件": "Open a case",
    "手工": "By hand", "热线来电": "Hotline call", "时间线": "Timeline", "时限": "SLA",
    "没有符合条件的案件。": "No case matches.", "结案": "Close", "转为": "Move to", "驳回（不予受理）": "Reject (not admissible)",
    "异议": "Dispute", "非本人": "Wrong person", "已还款核实": "Payment check", "困难/分期": "Hardship / instalments",
    "投诉": "Complaint", "回电请求": "Call-back", "新建": "New", "处理中": "In progress", "等待借款人": "Waiting for borrower",
    "已解决": "Resolved", "已驳回": "Rejected", "已结案": "Closed",
    "投诉成立": "Upheld", "部分成立": "Partly upheld", "投诉不成立": "Not upheld", "已更正": "Corrected",
    "欠款属实": "Debt confirmed", "确认非本人号码": "Wrong number confirmed", "确为本人": "Is the borrower",
    "已查到还款": "Payment found", "未查到还款": "No payment found", "达成分期方案": "Instalment plan agreed",
    "同意暂缓还款": "Payment holiday granted", "未同意": "Declined", "已回电": "Called back", "无法联系": "Unreachable",
    "期数": "Instalments", "首期还款日": "First due date", "每期金额（元）": "Amount per instalment (yuan)",
    "暂缓至": "Until", "困难协商中（暂停）": "Hardship case open (paused)",
}

# Capabilities keep their strings beside their pages; an entry here wins over theirs.
for _k, _v in AGENCY_EN.items():
    EN.setdefault(_k, _v)


def translator(lang: str) -> Callable[..., str]:
    def _(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    return _


# Field visits (外访)
EN.update({
    "外访": "Field visits", "外访看板": "Visit board", "今日外访": "Today's visits", "外访员": "Collector",
    "外访组长": "Team lead", "外访主管": "Visit supervisor", "外访实时看板": "Live visit board",
    "外访申请与报备": "Visit requests and registration", "账户外访记录": "Visits to this account",
    "实时看板": "Live board", "路线单": "Route sheets", "申请外访": "Request a visit",
    "外访须两人以上同行、持有效工作证件且一年内参加过合规培训；时段须在当地 08:00–22:00 之内；主管审批后获得登记号，借款人可在官网核验。":
        "A visit needs at least two people, each with a valid credential and conduct training within the last year; "
        "the window must lie within 08:00–22:00 local time; a supervisor's approval issues a registration number "
        "the borrower can verify on our website.",
    "同行人员（用户名，逗号分隔）": "Team (usernames, comma-separated)", "外访地址": "Address",
    "纬度（可选）": "Latitude (optional)", "经度（可选）": "Longitude (optional)", "日期": "Date",
    "开始时间": "Start", "结束时间": "End", "外访目的": "Purpose", "风险提示（可选）": "Risk notes (optional)",
    "风险提示": "Risk notes", "提交申请": "Submit the request", "外访记录": "Visits", "时段": "Window",
    "人员": "Staff", "登记号": "Registration", "外访结果": "Outcome", "还没有外访记录。": "No visit yet.",
    "申请人": "Requested by", "审批人": "Decided by", "批准并登记": "Approve and register",
    "驳回原因": "Reason for rejecting", "驳回": "Reject", "警报": "Alarms", "级别": "Level",
    "确认人": "Acknowledged by", "没有警报。": "No alarm.", "现场记录（时间与位置）": "Field events (time and position)",
    "事件": "Event", "位置": "Position", "距地址": "From the address", "还没有现场记录。": "No field event yet.",
    "更新于": "Updated", "未确认警报": "Unacknowledged alarms", "确认": "Acknowledge",
    "没有未确认的警报。": "No unacknowledged alarm.", "上次报平安": "Last check-in", "下次应报": "Next check-in due",
    "查看": "Show", "按报备的小组、外访时段与工作时间排线（OR-Tools 带时间窗的车辆路径）；距离为直线距离。":
        "Routes keep each visit with its registered team, inside its window and the working hours (OR-Tools "
        "vehicle routing with time windows); distances are straight-line.",
    "小组": "Team", "顺序": "#", "到达": "Arrive", "路程": "Leg", "当日没有已报备的外访。": "No registered visit that day.",
    "无法排线的外访": "Visits that could not be routed", "今天没有分配给您的外访。": "No visit for you today.",
    "签到前确认行为规范": "Confirm the conduct rules before checking in", "我确认录音录像已开始": "I confirm the recording has started",
    "签到 / 报平安（获取定位）": "Check in / I'm safe (uses your location)", "承诺还款日期": "Promised date",
    "承诺金额（元）": "Promised amount (yuan)", "备注": "Notes",
    "见到家属时不得透露欠款信息；遇家庭纠纷保持冷静并离开。":
        "Never disclose the debt to family members; in a family dispute stay calm and leave.",
    "记录结果": "Record the outcome", "签退": "Check out", "一键求助": "Call for help",
    "按下后主管立即收到警报；如有人身危险请同时拨打 110。":
        "Pressing it alarms the supervisors at once; in danger also call 110.",
    # visit states, alarms, levels, outcomes
    "待审批": "Awaiting approval", "已报备": "Registered", "已驳回": "Rejected", "外访中": "In the field",
    "已结束": "Closed", "SOS 求助": "SOS", "超时未报平安": "Missed check-in", "二线主管": "Second supervisor",
    "紧急联系人": "Emergency contacts", "见到借款人": "Met the borrower", "见到家属（未透露欠款）": "Met family (debt not disclosed)",
    "未找到": "Not found", "地址无效": "Address invalid", "承诺还款": "Promise to pay", "有争议": "Dispute",
    "拒绝沟通": "Refused", "外访后 30 天内还款（按小组，对比未外访账户）":
        "Repaid within 30 days of a visit, by team (against accounts without a visit)", "账户": "Accounts",
    "还款率": "Repayment rate", "打印": "Print", "未外访": "No visit",
    "留空则用账户导入的地址": "Blank: the address from the account import",
    "外访通知短信（已批准的事实性模板）": "Visit-notice SMS (approved factual template)",
    "已承诺还款（承诺日前不提醒）": "Promised to pay (no reminder before the date)",
    # escalation alerts, field events, outcomes table, complaints about a visit
    "已升级给您": "Escalated to you", "告警短信": "Alert SMS", "排队待发": "Queued", "发送失败": "Send failed",
    "回收金额": "Recovered", "报平安": "I'm safe", "签到": "Check-in", "签到被拒（超出范围）": "Check-in refused (out of range)",
    "确认警报": "Alarm acknowledged", "关于本次外访的投诉": "Complaints about this visit", "开立人": "Opened by",
    "没有关于本次外访的投诉。": "No complaint about this visit.", "签到时确认的行为规范": "Conduct rules confirmed at check-in",
    "录音录像": "Recording", "已开启": "On", "未确认": "Not confirmed",
    "尚未签到，没有行为规范确认记录。": "No check-in yet: no conduct confirmation.", "投诉内容": "The complaint",
    "开立投诉案件": "Open a complaint case",
})
