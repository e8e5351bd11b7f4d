"""Chinese first, English by a switch: page strings are written in Chinese and looked up here for English.

``_("批次")`` renders 批次 in Chinese and "Campaigns" in English. A string without an English entry shows in
Chinese (never blank); ``tests/web/test_i18n.py`` fails on any page string or label missing here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    "请使用管理员分配的账号登录。连续多次输错密码将暂时锁定账户。":
        "Sign in with the account your administrator gave you. Repeated wrong passwords lock it for a while.",
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
}


def translator(lang: str) -> Callable[..., str]:
    def _(text: str, **kw: Any) -> str:
        out = EN.get(text, text) if lang == "en" else text
        return out.format(**kw) if kw else out

    return _
