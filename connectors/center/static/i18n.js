// Labels in Chinese (the duty staff's language, the default) and English; a key missing in one falls back to the other.

const STORE_KEY = "govpulse.lang";

const zh = {
  product: "govpulse 政务服务监控中心",
  product_short: "政务服务监控中心",
  lang_toggle: "EN",
  lang_toggle_title: "Switch to English",
  logout: "退出登录",
  "live.live": "实时",
  "live.reconnecting": "重连中",
  "live.connecting": "连接中",
  "live.title.live": "实时推送已连接",
  "live.title.reconnecting": "实时推送中断，正在重连",

  "login.title": "值班人员登录",
  "login.username": "用户名",
  "login.password": "密码",
  "login.submit": "登录",
  "login.busy": "登录中…",
  "login.bad_credentials": "用户名或密码错误",
  "login.too_many": "尝试次数过多，请稍后再试",
  "login.failed": "登录失败",
  "login.expired": "会话已过期，请重新登录",
  "login.logged_out": "已退出登录",

  "role.admin": "管理员",
  "role.province_operator": "省级值班员",
  "role.city_operator": "市级值班员",
  "role.viewer": "只读",

  "sev.critical": "严重",
  "sev.warning": "警告",
  "sev.info": "提示",
  "state.firing": "告警中",
  "state.acknowledged": "已确认",
  "state.silenced": "已屏蔽",
  "state.resolved": "近期已恢复",
  "state.resolved_short": "已恢复",
  "domain.queue": "排队叫号",
  "domain.windows": "窗口服务",
  "domain.evaluation": "好差评",
  "domain.video": "视频监控",
  "domain.data_quality": "数据质量",

  "overview.title": "全省概览",
  "overview.province": "广东省",
  "overview.total": "活动告警",
  "overview.province_level": "省级",
  "overview.tile_title": "点击按本市筛选，再次点击取消",

  "filter.city": "地市",
  "filter.severity": "级别",
  "filter.domain": "类型",
  "filter.state": "状态",
  "filter.all_cities": "全部地市",
  "filter.all_severities": "全部级别",
  "filter.all_domains": "全部类型",
  "filter.active": "全部活动告警",
  "filter.everything": "全部（含近期已恢复）",

  "list.title": "告警列表",
  "list.count": "{n} 条",
  "list.empty": "没有符合条件的告警",
  "list.ack_by": "确认人：{by}",
  "list.flapping": "抖动",
  "list.loading": "正在加载…",

  "age.now": "刚刚",
  "age.min": "{n}分钟前",
  "age.hour": "{n}小时前",
  "age.hour_min": "{h}小时{m}分钟前",
  "age.day": "{n}天前",
  "left.min": "剩余{n}分钟",
  "left.hour": "剩余{h}小时{m}分钟",
  "left.day": "剩余{d}天{h}小时",

  "detail.title": "告警详情",
  "detail.placeholder": "点击左侧告警查看详情",
  "detail.close": "关闭",
  "detail.loading": "正在加载详情…",
  "detail.not_found": "该告警已不存在或无权查看",
  "detail.rule": "规则",
  "detail.value": "当前值",
  "detail.fired_at": "触发时间",
  "detail.resolved_at": "恢复时间",
  "detail.episode": "第{n}次",
  "detail.trend": "趋势",
  "detail.trend_empty": "无趋势数据",
  "detail.threshold": "阈值",
  "detail.fired": "触发",
  "detail.evidence": "证据",
  "detail.evidence_empty": "无证据字段",
  "detail.event_ids": "相关事件",
  "detail.org": "组织路径",
  "detail.grafana": "在 Grafana 中查看",
  "detail.history": "处置记录",
  "detail.history_empty": "暂无记录",
  "detail.inhibited_by": "被上级告警抑制：{by}",
  "detail.silenced_by": "屏蔽规则：{by}",

  "hist.firing": "触发",
  "hist.fired": "触发",
  "hist.acknowledged": "确认",
  "hist.silenced": "屏蔽",
  "hist.unsilenced": "解除屏蔽",
  "hist.silence_removed": "解除屏蔽",
  "hist.inhibited": "抑制",
  "hist.uninhibited": "解除抑制",
  "hist.resolved": "恢复",

  "org.province": "省",
  "org.city": "市",
  "org.county": "区县",
  "org.hall": "大厅",
  "org.node": "视频节点",
  "org.camera": "摄像头",
  "org.source": "数据源",
  "org.window": "窗口",
  "org.dept": "部门",
  "org.staff": "工作人员",

  "act.title": "处置",
  "act.ack_comment": "确认说明",
  "act.ack_placeholder": "例如：已电话联系大厅负责人",
  "act.ack": "确认告警",
  "act.ack_done": "已确认",
  "act.ack_unavailable": "仅告警中且未确认的告警可确认",
  "act.silence_open": "屏蔽…",
  "act.silence_title": "新建屏蔽",
  "act.matchers": "匹配条件",
  "act.label": "标签",
  "act.value": "值",
  "act.add_matcher": "添加条件",
  "act.remove_matcher": "删除",
  "act.duration": "时长",
  "act.custom": "自定义（分钟）",
  "act.minutes": "分钟",
  "act.silence_comment": "屏蔽原因",
  "act.silence_placeholder": "例如：大厅网络割接，预计两小时",
  "act.silence_submit": "创建屏蔽",
  "act.cancel": "取消",
  "act.silence_done": "已创建屏蔽 {id}",
  "act.need_matcher": "至少需要一个匹配条件",
  "act.bad_duration": "请输入有效的时长（分钟）",
  "act.busy": "提交中…",
  "act.failed": "操作失败",
  "act.forbidden": "无权限执行此操作",
  "act.readonly": "只读账号，不能处置告警",
  "dur.30m": "30分钟",
  "dur.1h": "1小时",
  "dur.2h": "2小时",
  "dur.4h": "4小时",
  "dur.8h": "8小时",
  "dur.24h": "24小时",

  "sil.title": "生效中的屏蔽",
  "sil.empty": "当前没有屏蔽",
  "sil.unsilence": "解除屏蔽",
  "sil.by": "{by} 创建",
  "sil.until": "至 {t}",

  "rep.title": "统计报表",
  "rep.period": "统计期间",
  "rep.period_hint": "如 2026-11、2026Q4、2026H2、2026，或日期范围 2026-11-01..2026-11-15",
  "rep.level": "层级",
  "rep.level.province": "全省",
  "rep.level.city": "市级",
  "rep.level.dept": "部门",
  "rep.city": "地市",
  "rep.provincial_depts": "省直部门",
  "rep.format": "格式",
  "rep.format.xlsx": "XLSX 表格",
  "rep.format.pdf": "PDF",
  "rep.download": "生成并下载",
  "rep.busy": "生成中…",
  "rep.making": "正在生成报表，通常需要几秒到几十秒…",
  "rep.done": "已下载 {name}（{size}）",
  "rep.need_period": "请填写统计期间",
  "rep.need_city": "请选择地市",
  "rep.err_detail": "{what}：{detail}",
  "rep.err.bad_query": "查询条件有误",
  "rep.err.not_found": "无此报表或无权查看",
  "rep.err.pdf_font_missing": "服务器缺少中文字体，无法生成 PDF",
  "rep.err.report_spec_invalid": "报表定义文件有误",
  "rep.err.failed": "生成报表失败",
  "rep.archive": "已归档报表",
  "rep.archive_empty": "暂无归档报表",
  "rep.refresh": "刷新",

  "man.title": "手工数据上报",
  "man.file": "数据文件（CSV 或 XLSX）",
  "man.hint": "列：指标、对象类型、对象、期间、值、备注（中文或英文表头）；至多 5 MB、20,000 行",
  "man.partial": "只保存合格行",
  "man.partial_hint": "不勾选时，文件中任何一行不合格则整个文件不保存",
  "man.upload": "上传",
  "man.busy": "上传中…",
  "man.uploading": "正在上传并校验…",
  "man.stored": "已保存 {stored} 条数据（文件共 {rows} 行）",
  "man.refused": "{n} 行未通过校验，未保存任何数据（文件共 {rows} 行）",
  "man.none_good": "没有合格的行，未保存任何数据（文件共 {rows} 行）",
  "man.refused_rows": "未通过校验的行：{n}",
  "man.more_rows": "另有 {n} 行未列出",
  "man.col.line": "行号",
  "man.col.reason": "原因",
  "man.col.detail": "说明",
  "man.need_file": "请选择要上传的文件",
  "man.err_detail": "{what}：{detail}",
  "man.err.forbidden": "无权上报数据",
  "man.err.too_large": "文件过大",
  "man.err.too_many_rows": "文件行数过多",
  "man.err.too_many_columns": "文件列数过多",
  "man.err.empty": "文件没有数据",
  "man.err.unknown_format": "不支持的文件格式",
  "man.err.bad_encoding": "无法识别文件编码",
  "man.err.unreadable": "无法读取文件",
  "man.err.missing_columns": "表头缺少必需的列",
  "man.err.unavailable": "数据暂时无法保存",
  "man.err.failed": "上传失败",
  "man.reason.missing_field": "缺少必填项",
  "man.reason.cell_too_long": "内容过长",
  "man.reason.unknown_indicator": "未知指标",
  "man.reason.not_manual": "非手工上报指标",
  "man.reason.bad_entity_kind": "对象类型有误",
  "man.reason.entity_kind_not_in_scopes": "该指标不适用于此对象类型",
  "man.reason.unknown_entity": "未知对象",
  "man.reason.other_city": "不属于本市",
  "man.reason.bad_period": "期间格式有误",
  "man.reason.period_mismatch": "期间长度与指标不符",
  "man.reason.future_period": "期间尚未开始",
  "man.reason.not_a_number": "值不是数字",
  "man.reason.out_of_range": "值超出范围",
  "man.reason.duplicate": "重复行",

  "err.network": "网络错误，请稍后重试",
  "err.http": "服务返回错误（{status}）",
};

const en = {
  product: "govpulse Government Service Monitoring Center",
  product_short: "Monitoring Center",
  lang_toggle: "中文",
  lang_toggle_title: "切换到中文",
  logout: "Sign out",
  "live.live": "Live",
  "live.reconnecting": "Reconnecting",
  "live.connecting": "Connecting",
  "live.title.live": "Live feed connected",
  "live.title.reconnecting": "Live feed lost, reconnecting",

  "login.title": "Duty staff sign-in",
  "login.username": "Username",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.busy": "Signing in…",
  "login.bad_credentials": "Wrong username or password",
  "login.too_many": "Too many attempts, please wait and try again",
  "login.failed": "Sign-in failed",
  "login.expired": "Session expired, please sign in again",
  "login.logged_out": "Signed out",

  "role.admin": "Administrator",
  "role.province_operator": "Province operator",
  "role.city_operator": "City operator",
  "role.viewer": "Read-only",

  "sev.critical": "Critical",
  "sev.warning": "Warning",
  "sev.info": "Info",
  "state.firing": "Firing",
  "state.acknowledged": "Acknowledged",
  "state.silenced": "Silenced",
  "state.resolved": "Recently resolved",
  "state.resolved_short": "Resolved",
  "domain.queue": "Queue",
  "domain.windows": "Windows",
  "domain.evaluation": "Evaluations",
  "domain.video": "Video",
  "domain.data_quality": "Data quality",

  "overview.title": "Province overview",
  "overview.province": "Guangdong",
  "overview.total": "Active alerts",
  "overview.province_level": "Province-level",
  "overview.tile_title": "Click to filter by this city, click again to clear",

  "filter.city": "City",
  "filter.severity": "Severity",
  "filter.domain": "Domain",
  "filter.state": "State",
  "filter.all_cities": "All cities",
  "filter.all_severities": "All severities",
  "filter.all_domains": "All domains",
  "filter.active": "All active",
  "filter.everything": "All (incl. recently resolved)",

  "list.title": "Alerts",
  "list.count": "{n}",
  "list.empty": "No alerts match",
  "list.ack_by": "Ack: {by}",
  "list.flapping": "flapping",
  "list.loading": "Loading…",

  "age.now": "just now",
  "age.min": "{n} min ago",
  "age.hour": "{n} h ago",
  "age.hour_min": "{h} h {m} min ago",
  "age.day": "{n} d ago",
  "left.min": "{n} min left",
  "left.hour": "{h} h {m} min left",
  "left.day": "{d} d {h} h left",

  "detail.title": "Alert detail",
  "detail.placeholder": "Select an alert to see its details",
  "detail.close": "Close",
  "detail.loading": "Loading…",
  "detail.not_found": "This alert no longer exists or is out of your scope",
  "detail.rule": "Rule",
  "detail.value": "Value",
  "detail.fired_at": "Fired",
  "detail.resolved_at": "Resolved",
  "detail.episode": "episode {n}",
  "detail.trend": "Trend",
  "detail.trend_empty": "No trend data",
  "detail.threshold": "threshold",
  "detail.fired": "fired",
  "detail.evidence": "Evidence",
  "detail.evidence_empty": "No evidence fields",
  "detail.event_ids": "Events",
  "detail.org": "Organisation",
  "detail.grafana": "Open in Grafana",
  "detail.history": "History",
  "detail.history_empty": "Nothing yet",
  "detail.inhibited_by": "Inhibited by: {by}",
  "detail.silenced_by": "Silence: {by}",

  "hist.firing": "Fired",
  "hist.fired": "Fired",
  "hist.acknowledged": "Acknowledged",
  "hist.silenced": "Silenced",
  "hist.unsilenced": "Unsilenced",
  "hist.silence_removed": "Silence removed",
  "hist.inhibited": "Inhibited",
  "hist.uninhibited": "Uninhibited",
  "hist.resolved": "Resolved",

  "org.province": "Province",
  "org.city": "City",
  "org.county": "County",
  "org.hall": "Hall",
  "org.node": "Video node",
  "org.camera": "Camera",
  "org.source": "Source",
  "org.window": "Window",
  "org.dept": "Department",
  "org.staff": "Staff",

  "act.title": "Actions",
  "act.ack_comment": "Comment",
  "act.ack_placeholder": "e.g. called the hall manager",
  "act.ack": "Acknowledge",
  "act.ack_done": "Acknowledged",
  "act.ack_unavailable": "Only a firing, unacknowledged alert can be acknowledged",
  "act.silence_open": "Silence…",
  "act.silence_title": "New silence",
  "act.matchers": "Matchers",
  "act.label": "Label",
  "act.value": "Value",
  "act.add_matcher": "Add matcher",
  "act.remove_matcher": "Remove",
  "act.duration": "Duration",
  "act.custom": "Custom (minutes)",
  "act.minutes": "minutes",
  "act.silence_comment": "Reason",
  "act.silence_placeholder": "e.g. hall network maintenance, about two hours",
  "act.silence_submit": "Create silence",
  "act.cancel": "Cancel",
  "act.silence_done": "Silence {id} created",
  "act.need_matcher": "At least one matcher is needed",
  "act.bad_duration": "Enter a valid duration in minutes",
  "act.busy": "Sending…",
  "act.failed": "Action failed",
  "act.forbidden": "You may not do this",
  "act.readonly": "Read-only account: no actions",
  "dur.30m": "30 min",
  "dur.1h": "1 h",
  "dur.2h": "2 h",
  "dur.4h": "4 h",
  "dur.8h": "8 h",
  "dur.24h": "24 h",

  "sil.title": "Active silences",
  "sil.empty": "No silences",
  "sil.unsilence": "Unsilence",
  "sil.by": "by {by}",
  "sil.until": "until {t}",

  "rep.title": "Statistics reports",
  "rep.period": "Period",
  "rep.period_hint": "e.g. 2026-11, 2026Q4, 2026H2, 2026, or days 2026-11-01..2026-11-15",
  "rep.level": "Level",
  "rep.level.province": "Province",
  "rep.level.city": "City",
  "rep.level.dept": "Departments",
  "rep.city": "City",
  "rep.provincial_depts": "Provincial departments",
  "rep.format": "Format",
  "rep.format.xlsx": "XLSX spreadsheet",
  "rep.format.pdf": "PDF",
  "rep.download": "Make and download",
  "rep.busy": "Making…",
  "rep.making": "Making the report: a few seconds to tens of seconds…",
  "rep.done": "Downloaded {name} ({size})",
  "rep.need_period": "Enter a period",
  "rep.need_city": "Choose a city",
  "rep.err_detail": "{what}: {detail}",
  "rep.err.bad_query": "Bad request",
  "rep.err.not_found": "No such report, or outside your scope",
  "rep.err.pdf_font_missing": "The server has no Chinese font to make a PDF",
  "rep.err.report_spec_invalid": "The report definition is invalid",
  "rep.err.failed": "The report could not be made",
  "rep.archive": "Kept reports",
  "rep.archive_empty": "No kept reports yet",
  "rep.refresh": "Refresh",

  "man.title": "Manual data upload",
  "man.file": "Data file (CSV or XLSX)",
  "man.hint": "Columns: indicator, entity_kind, entity, period, value, note (Chinese or English headers); at most 5 MB and 20,000 rows",
  "man.partial": "Store only the good rows",
  "man.partial_hint": "Unchecked, a file with any bad row stores nothing",
  "man.upload": "Upload",
  "man.busy": "Uploading…",
  "man.uploading": "Uploading and checking…",
  "man.stored": "Values stored: {stored} ({rows} rows in the file)",
  "man.refused": "Rows refused: {n}; nothing stored ({rows} rows in the file)",
  "man.none_good": "No good rows, nothing stored ({rows} rows in the file)",
  "man.refused_rows": "Refused rows: {n}",
  "man.more_rows": "Not listed: {n} more rows",
  "man.col.line": "Line",
  "man.col.reason": "Reason",
  "man.col.detail": "Detail",
  "man.need_file": "Choose a file to upload",
  "man.err_detail": "{what}: {detail}",
  "man.err.forbidden": "Not allowed to upload data",
  "man.err.too_large": "The file is too large",
  "man.err.too_many_rows": "The file has too many rows",
  "man.err.too_many_columns": "The file has too many columns",
  "man.err.empty": "The file has no data",
  "man.err.unknown_format": "Unsupported file format",
  "man.err.bad_encoding": "Unknown text encoding",
  "man.err.unreadable": "The file cannot be read",
  "man.err.missing_columns": "The header lacks required columns",
  "man.err.unavailable": "The values cannot be stored now",
  "man.err.failed": "Upload failed",
  "man.reason.missing_field": "Missing field",
  "man.reason.cell_too_long": "Cell too long",
  "man.reason.unknown_indicator": "Unknown indicator",
  "man.reason.not_manual": "Not a manual indicator",
  "man.reason.bad_entity_kind": "Bad entity kind",
  "man.reason.entity_kind_not_in_scopes": "Entity kind not allowed for the indicator",
  "man.reason.unknown_entity": "Unknown entity",
  "man.reason.other_city": "Another city",
  "man.reason.bad_period": "Bad period",
  "man.reason.period_mismatch": "Period length does not match",
  "man.reason.future_period": "Period has not begun",
  "man.reason.not_a_number": "Not a number",
  "man.reason.out_of_range": "Out of range",
  "man.reason.duplicate": "Duplicate row",

  "err.network": "Network error, please retry",
  "err.http": "Server error ({status})",
};

const DICTS = { zh, en };
let current = "zh";

function readStored() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage may be disabled; the default still works
  }
}

export function initLang() {
  const stored = readStored();
  current = stored === "en" || stored === "zh" ? stored : "zh";
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  return current;
}

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === "en" ? "en" : "zh";
  try {
    localStorage.setItem(STORE_KEY, current);
  } catch {
    // not remembered, but switched
  }
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

/** The label for key in the current language, else the other one, else the key; {name} placeholders filled from vars. */
export function t(key, vars) {
  const other = current === "zh" ? "en" : "zh";
  let text = DICTS[current][key] ?? DICTS[other][key] ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

/** Fill every element marked data-i18n (text), data-i18n-placeholder or data-i18n-title under root. */
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  document.title = t("product");
}

/** "5分钟前" style age of an ISO time relative to now. */
export function ago(iso, now = Date.now()) {
  const at = Date.parse(iso || "");
  if (Number.isNaN(at)) return "";
  const min = Math.max(0, Math.floor((now - at) / 60000));
  if (min < 1) return t("age.now");
  if (min < 60) return t("age.min", { n: min });
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 && h < 6 ? t("age.hour_min", { h, m: min % 60 }) : t("age.hour", { n: h });
  return t("age.day", { n: Math.floor(h / 24) });
}

/** "剩余1小时20分钟" style time left until an ISO time. */
export function timeLeft(iso, now = Date.now()) {
  const at = Date.parse(iso || "");
  if (Number.isNaN(at)) return "";
  const min = Math.max(0, Math.ceil((at - now) / 60000));
  if (min < 60) return t("left.min", { n: min });
  const h = Math.floor(min / 60);
  if (h < 24) return t("left.hour", { h, m: min % 60 });
  return t("left.day", { d: Math.floor(h / 24), h: h % 24 });
}

/** Local wall-clock time, "MM-DD HH:MM" (or with seconds), in the browser's zone (Asia/Shanghai for the duty staff). */
export function clock(iso, { seconds = false, date = true } = {}) {
  const d = new Date(iso || "");
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  const time = `${p(d.getHours())}:${p(d.getMinutes())}${seconds ? `:${p(d.getSeconds())}` : ""}`;
  return date ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${time}` : time;
}
