"""English for the agency pages (issue 22); merged into :data:`dunning.entrypoints.web.i18n.EN`."""

from __future__ import annotations

AGENCY_EN: dict[str, str] = {
    "委外告知短信尚未送达（机构不得联系）": "Entrustment notice not yet delivered (the agency may not contact)",
    "下期份额": "Next share", "下次年度评估": "Next yearly evaluation",
    "个人信息委托处理协议": "Entrusted-processing contract (PIPL)", "委托处理个人信息协议": "Entrusted-processing contract (PIPL)",
    "中标机构与份额（每行：标段编号:机构编号:份额）": "Winners and shares (one per line: lot id:agency id:share)",
    "份额": "Shares", "佣金": "Commission", "佣金结算": "Commission statement", "佣金结算单": "Commission statement",
    "佣金费率": "Commission rate", "佣金费率（如 0.12）": "Commission rate (e.g. 0.12)",
    "佣金费率（越低越好）": "Commission rate (lower is better)", "保存评分": "Save scores", "候选": "Candidate",
    "借据号（留空=全部）": "Loan ids (empty = all)", "全国": "Nationwide", "全部账龄": "All buckets",
    "冲突说明": "Conflict note", "分案": "Allocation", "分案周期": "Allocation period",
    "列入黑名单（暴力催收、数据泄露等），终止合作": "Blacklist (violent collection, data leak…) and terminate",
    "到期提醒": "Due soon", "剩余天数": "days left", "协议开始": "Contract start", "协议结束": "Contract end",
    "历史回收率": "Past recovery rate", "发布": "Publish", "发布人": "Published by", "发布招标公告": "Publish a tender notice",
    "变更状态": "Change status", "合作中": "Active", "合规问题": "Compliance findings",
    "合规问题数（越少越好）": "Compliance findings (fewer is better)", "告知已送达": "Notice delivered",
    "告知短信送达之前，机构的批次不会联系该借款人（计划时抑制，原因：委外告知短信尚未送达）。":
        "Until the entrustment notice is delivered, an agency's campaign does not contact the borrower "
        "(suppressed at planning: notice not yet delivered).",
    "周期": "Period", "回收户数": "Accounts recovered", "回收率": "Recovery rate", "回收金额": "Recovered",
    "团队与培训": "Team and training", "地区": "Regions", "地区（逗号分隔）": "Regions (comma separated)",
    "声明利益冲突": "Declare a conflict", "委外告知批次": "Notice campaign", "审批人": "Approved by",
    "导入批次": "Import", "导入批次编号": "Import id", "尚未投标。": "No bid yet.",
    "已声明利益冲突，不能评分": "Conflict declared: cannot score", "已授标": "Awarded", "已终止": "Terminated",
    "已过期": "expired", "平均考核得分": "Mean score", "平衡计分卡": "Balanced scorecard", "年度评估": "Yearly evaluation",
    "年度评估报告": "Yearly evaluation report", "开始日期": "Start date", "待审批": "Awaiting approval",
    "针对本机构的案件（每万户）": "Cases against the agency (per 10,000)", "针对本机构的案件": "Cases against the agency",
    "得分": "Score", "分账龄费率（可选，如 M2:0.10, M3:0.15；未列出的账龄按上面的费率）":
        "Rates per bucket (optional, e.g. M2:0.10, M3:0.15; a bucket not listed is paid at the rate above)",
    "得分 = 回收率 40% + 投诉 20% + 合规问题 15% + 退订 15% + 时段外联系 10%（均按与最优机构之比归一）；下期份额与得分成正比，不低于 10%、不高于 60%。":
        "Score = recovery 40% + complaints 20% + compliance findings 15% + opt-outs 15% + contacts outside the "
        "window 10% (each as a ratio to the best agency); next shares are proportional to score, 10% to 60%.",
    "批准授标": "Approve the award", "承接能力": "Capacity", "承接能力（户数）": "Capacity (accounts)",
    "承诺回收率": "Promised recovery", "承诺回收率（如 0.3）": "Promised recovery rate (e.g. 0.3)",
    "承诺投诉率": "Promised complaints", "承诺投诉率（每万户）": "Promised complaints per 10,000 accounts",
    "技术、经验与团队说明": "Technology, experience and team", "投标中": "Bidding open",
    "投标已截止或尚未开始。": "Bidding is closed or has not opened.", "投标开始": "Bidding opens",
    "投标截止": "Bidding closes", "投标数": "Bids", "投标文件（PDF/图片，每个不超过 10 MB）":
        "Bid documents (PDF or images, 10 MB each at most)", "投标时间": "Bidding window",
    "投诉率（每万户，越低越好）": "Complaints per 10,000 (lower is better)", "投诉（每万户）": "Complaints per 10,000",
    "招标": "Tenders", "招标公告": "Tender notice", "招标报告": "Tender report", "按中标份额分案": "Allocate by award shares",
    "按此周期考核的份额（可选）": "Shares from this period's scorecard (optional)",
    "按账龄、金额、地区分层，每层内按份额分配（误差不超过 1 户），不超过机构承接能力；上期同一标段的账户留在原机构。可用上期考核生成的份额。":
        "Stratified by DPD, amount and region; each stratum split by share (within one account), never beyond an "
        "agency's capacity; accounts of the lot's previous period stay with their agency. Shares may come from "
        "the last scorecard.",
    "授标建议人": "Proposed by", "提交投标": "Submit the bid", "提出授标建议": "Propose the award", "收回": "Recall",
    "收回原因": "Recall reason", "文件（PDF/图片）": "File (PDF or image)", "新状态": "New status",
    "时段外联系": "Outside the window", "本周期还没有回款。": "No payments in this period yet.",
    "本机构的投标": "Our bids", "机构": "Agency", "标段": "Lots", "标段编号": "Lot id",
    "标段（每行：名称|账龄|地区）": "Lots (one per line: name|buckets|regions)", "标题": "Title",
    "法定名称": "Legal name", "状态与评估": "Status and evaluation", "生成年度评估报告": "Generate the yearly evaluation",
    "登记": "Register", "登记人": "Added by", "登记文件": "Record the document", "登记机构": "Register an agency",
    "简称": "Short name", "系统与数据安全": "Systems and data security", "结束日期": "End date", "联系人": "Contacts",
    "营业执照": "Business licence", "要求": "Requirements", "计划委外告知短信": "Plan the entrustment notice",
    "记录考核并生成下期份额": "Record scorecards and set next shares", "评估日期": "Evaluated on",
    "评分表": "Score sheet", "评分项": "Criteria",
    "评分项与权重：佣金费率 25%（越低越好）、历史回收率 20%、投诉率 15%（越低越好）、合规问题 10%（越少越好）、承接能力 10%、系统与数据安全 10%、团队与培训 10%。":
        "Criteria and weights: commission 25% (lower is better), past recovery 20%, complaints 15% (lower is "
        "better), compliance findings 10% (fewer is better), capacity 10%, systems and data security 10%, team "
        "and training 10%.",
    "评分（独立评分，看不到其他评委的分数）": "Scoring (independent: other evaluators' scores are not shown)",
    "评委": "Evaluators", "评委（用户名，逗号分隔）": "Evaluators (usernames, comma separated)", "账龄": "Buckets",
    "账龄（逗号分隔）": "Buckets (comma separated)", "资质文件": "Licences and qualifications",
    "资质证书": "Qualification", "过去一年没有考核记录。": "No scorecard in the past year.", "返回招标": "Back to the tender",
    "还没有分案。": "No allocation yet.", "还没有投标。": "No bids yet.", "还没有招标。": "No tender yet.",
    "还没有登记的委外机构。": "No agency registered yet.", "还没有资质文件。": "No documents yet.", "退订": "Opt-outs",
    "金额": "Amount", "须由未参与评分的合规审核人或管理员批准。":
        "A compliance reviewer or administrator who did not evaluate must approve.", "黑名单": "Blacklisted",
    "暂停": "Suspended", "类型": "Kind", "名称": "Name", "到期日": "Expires",
    "状态": "Status", "原因": "Reason", "账户": "Accounts",
}
