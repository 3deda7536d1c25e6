"""One catalogue of error codes and message templates, and the typed exceptions that carry them.

Every problem a user can cause has a stable code here. The CLI and the dashboard turn
exceptions and problems into messages at one boundary (``message_zh`` / ``message_en``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# code: (severity, Chinese template, English template)
CATALOGUE: dict[str, tuple[str, str, str]] = {
    # --- catalog (schemas/) -------------------------------------------------
    "CAT001": ("error", "目录文件 {file} 无法读取:{detail}", "cannot read catalog file {file}: {detail}"),
    "CAT002": ("error", "目录文件 {file} 中 {entry} 定义有误:{detail}", "{file}: entry {entry}: {detail}"),
    "CAT003": ("error", "目录文件 {file} 中 {entry} 引用了未知字段 {name}", "{file}: entry {entry}: unknown field {name}"),
    "CAT004": ("error", "目录文件 {file} 中 {entry} 的表达式不合规:{detail}", "{file}: entry {entry}: bad expression: {detail}"),
    "CAT005": ("error", "目录文件 {file} 中编号 {entry} 重复(另见 {other})", "{file}: duplicate id {entry} (also in {other})"),
    "CAT006": ("error", "目录文件 {file} 中目标 {entry} 引用了不存在的指标 {name}", "{file}: target {entry}: unknown indicator {name}"),
    "CAT007": ("error", "目录文件 {file} 中 {entry} 的截止日期有误:{detail}", "{file}: entry {entry}: bad deadline: {detail}"),
    "CAT008": ("error", "找不到规划 {plan};可用的规划:{known}", "unknown plan {plan}; known plans: {known}"),
    # --- registry -----------------------------------------------------------
    "REG001": ("error", "{file} 第 {line} 行:代码 {code} 不是12位数字", "{file} line {line}: code {code} is not 12 digits"),
    "REG002": ("error", "{file} 第 {line} 行:代码 {code} 重复(第 {other} 行已有)", "{file} line {line}: duplicate code {code} (first on line {other})"),
    "REG003": ("error", "{file} 第 {line} 行:{code} {name} 的上级代码 {parent} 不存在", "{file} line {line}: parent {parent} of {code} not found"),
    "REG004": ("error", "{file} 第 {line} 行:{code} 的上级代码 {parent} 与本级代码前缀不一致", "{file} line {line}: parent {parent} inconsistent with code {code}"),
    "REG005": ("error", "{file} 第 {line} 行:缺少{column}", "{file} line {line}: missing {column}"),
    "REG006": ("error", "{file} 缺少必需的列 {column}(需要:代码、名称、上级代码)", "{file}: missing column {column} (need code, name, parent_code)"),
    "REG007": ("error", "{file} 第 {line} 行:经纬度 {value} 无效", "{file} line {line}: invalid coordinate {value}"),
    "REG008": ("error", "边界文件 {file} 中第 {line} 个要素:{detail}", "boundary file {file} feature {line}: {detail}"),
    "REG009": ("error", "找不到单位 {code},请先导入区划名录(rural-targets registry load)", "unknown unit {code}; load the registry first"),
    "REG010": ("error", "单位 {code} 是{level}级,这里需要{expected}级单位", "unit {code} is a {level}, expected a {expected}"),
    "REG011": ("error", "{file} 第 {line} 行:日期 {value} 无效(应为 YYYY-MM-DD)", "{file} line {line}: invalid date {value}"),
    "REG012": ("error", "{file} 无法读取:{detail}", "cannot read {file}: {detail}"),
    "REG013": ("error", "{file} 第 {line} 行:{column} {value} 无效(应为非负整数)",
               "{file} line {line}: invalid {column} {value} (need a non-negative integer)"),
    "REG014": ("error", "{file} 第 {line} 行:层级 {value} 与代码 {code} 推出的{level}级不符",
               "{file} line {line}: level {value} does not match code {code} ({level})"),
    "REG015": ("error", "{file} 第 {line} 行:类型 {value} 无效(应为村委会或居委会)",
               "{file} line {line}: invalid committee type {value} (need 村委会 or 居委会)"),
    "REG016": ("error", "{file} 第 {line} 行:城乡分类代码 {value} 无效(应为111、112、121、122、123、210、220之一)",
               "{file} line {line}: invalid urban-rural code {value} (need 111, 112, 121, 122, 123, 210 or 220)"),
    # --- template -----------------------------------------------------------
    "TPL001": ("error", "报告期 {period} 格式不对,应写成 2024Q3 这样的形式", "bad period {period}; write it like 2024Q3"),
    "TPL002": ("error", "乡镇 {code} 在名录中没有所辖村(社区),无法生成报表", "township {code} has no villages in the registry"),
    "TPL003": ("error", "输出文件 {file} 须以 .xlsx 结尾(模板总是 xlsx 格式)", "output file {file} must end in .xlsx"),
    "TPL004": ("error", "区县 {code} 在名录中没有所辖乡镇(街道),无法生成报表", "county {code} has no townships in the registry"),
    # --- ingest: the file ------------------------------------------------------
    "ING001": ("error", "{file} 不是乡镇季度报表:找不到\"村级情况\"数据表(表头或字段编号行)。请使用 rural-targets 生成的模板填报",
               "{file} is not a township return: no village sheet found"),
    "ING002": ("error", "{file} 的模板版本为 {found},当前要求 {expected}。请下载新模板,把数据粘贴过去后再上传",
               "{file}: template version {found}, expected {expected}"),
    "ING003": ("error", "{file} 中找不到报告期(应在\"报告期\"单元格写明,如 2024年第3季度)", "{file}: no reporting period found"),
    "ING004": ("error", "{file} 中的填报单位 {code} 不是名录中的乡镇(街道)", "{file}: {code} is not a known township"),
    "ING005": ("warning", "文件名 {file} 表明{what}是 {name_value},但表内写的是 {content_value};已按表内内容处理,请核对",
               "file name says {what} {name_value}, content says {content_value}"),
    "ING006": ("error", "无法打开 {file}:{detail}。请确认文件未损坏,另存为 .xlsx 后重新上传", "cannot read {file}: {detail}"),
    "ING007": ("error", "{file} 的村级情况表中没有任何村的数据行", "{file}: no village rows"),
    "ING008": ("warning", "{file} 中没有\"乡镇情况\"表,乡镇本身的指标按未填报处理", "{file}: township sheet missing"),
    "ING009": ("warning", "{sheet} 缺少 {label} 一列,该项按未填报处理", "{sheet}: column {field} missing; treated as not reported"),
    "ING019": ("error", "{sheet} 缺少必需的列 {label}", "{sheet}: required column {field} missing"),
    "ING018": ("error", "{file} 中找不到填报单位(乡镇)代码;请在乡镇情况表填写乡镇代码", "{file}: township not found"),
    # --- ingest: cells --------------------------------------------------------
    "ING010": ("error", "{cell}({label})应填数字,现为 \"{value}\"", "{cell} ({field}): not a number: {value}"),
    "ING011": ("error", "{cell}({label})应填整数,现为 {value}", "{cell} ({field}): not an integer: {value}"),
    "ING012": ("error", "{cell}({label})不能小于 {min},现为 {value}", "{cell} ({field}): below {min}: {value}"),
    "ING023": ("error", "{cell}({label})不能大于 {max},现为 {value};请核对是否多填了位数", "{cell} ({field}): above {max}: {value}"),
    "ING024": ("error", "{cell}({label})是 Excel 错误值 {value}(公式出错),请改正公式或直接填写数值", "{cell} ({field}): Excel error value {value}"),
    "ING025": ("error", "{cell}({label})的日期 {value} {why};请核对年份(日期格中的数字,如 12.28,会被 Excel 当作 1900 年的日期)",
               "{cell} ({field}): date {value} {why_en}"),
    "ING026": ("error", "{sheet} 的 {first} 列和 {second} 列都是“{label}”;请删除多余的一列(或改正表头)后重新上传",
               "{sheet}: columns {first} and {second} both carry {field}"),
    "ING027": ("error", "{what}前后不一致:{place1}为 {value1},{place2}为 {value2};请核对是否用了别的乡镇或上一季度的表格",
               "{what} disagrees: {place1} says {value1}, {place2} says {value2}"),
    "ING028": ("error", "{cell}({label})为 {value},是区划名录中该村人口 {registry} 的 {ratio} 倍;请核对是否填成了身份证号、电话或全乡镇的数字",
               "{cell} ({field}): {value} is {ratio}× the registry's {registry}"),
    "ING013": ("error", "{cell}({label})应填\"是\"或\"否\",现为 \"{value}\"", "{cell} ({field}): not yes/no: {value}"),
    "ING014": ("error", "{cell}({label})只能填 {choices},现为 \"{value}\"", "{cell} ({field}): not one of {choices}: {value}"),
    "ING015": ("error", "{cell}({label})应填日期,如 2024-07-05 或 2024年7月5日,现为 \"{value}\"", "{cell} ({field}): not a date: {value}"),
    "ING016": ("error", "{cell}({label})必须填写", "{cell} ({field}): required"),
    "ING017": ("error", "{cell}({label})应为12位统计用区划代码,现为 \"{value}\"", "{cell} ({field}): not a 12-digit code: {value}"),
    "ING020": ("error", "{cell}:{message}(本行:{detail})", "{cell}: rule {rule} failed ({detail})"),
    "ING021": ("error", "{cell}:{message}", "{cell}: rule {rule}: required field blank"),
    "ING022": ("warning", "{cell}:{message}(本行:{detail})", "{cell}: rule {rule} failed ({detail})"),
    # --- ingest: rows and the registry ----------------------------------------------
    "ING030": ("error", "{cell} 的村代码 {value} 不在区划名录中,请核对代码", "{cell}: unknown village code {value}"),
    "ING031": ("error", "{cell} 的村代码 {value} 属于 {other},不属于本乡镇 {township};请删除该行或改报到所属乡镇",
               "{cell}: village {value} belongs to {other}, not {township}"),
    "ING032": ("error", "{cell} 的村 {value} 重复出现(第 {first_row} 行已有),请删除重复行", "{cell}: duplicate village {value} (first on row {first_row})"),
    "ING033": ("error", "本乡镇的 {value} {name} 在报表中没有数据行;请补上该行(不掌握的数据可留空)", "village {value} {name} missing from the return"),
    "ING034": ("warning", "{cell} 的村名\"{value}\"与名录中的\"{name}\"不一致,已按代码处理", "{cell}: name {value} differs from registry name {name}"),
    "ING035": ("warning", "{sheet} 第 {row} 行是合计行(\"{value}\"),已跳过,不作为村的数据导入", "{sheet} row {row}: totals row skipped"),
    "ING036": ("error", "{sheet} 数据区有合并单元格 {range};请取消合并,每个单元格单独填写", "{sheet}: merged cells {range} in the data area"),
    "ING037": ("warning", "{sheet} 的隐藏{what} {where} 中有数据,已照常导入;请确认这些数据应当上报", "{sheet}: hidden {what} {where} contains data"),
    "ING038": ("error", "{cell}({label})是公式但没有计算结果;请在 Excel/WPS 中打开后保存一次,或把公式改为数值", "{cell} ({field}): formula without a cached value"),
    "ING039": ("error", "{sheet} 第 {row} 行没有村代码;每个数据行都必须有村(社区)代码", "{sheet} row {row}: village code missing"),
    "ING040": ("warning", "{cell}:{name} 的{label}为 {value},上期为 {previous},变化异常,请核对", "{cell}: {field} of {name} is {value}, previous {previous}: unusual change"),
    # --- ingest: limits (schemas/settings.yaml: limits) --------------------------------
    "ING064": ("error", "{file} 无法在限定的资源内读取({why}),已停止读取;文件可能已损坏或含有异常内容,请用 Excel 或 WPS 另存为新文件后重新上传",
               "{file}: reading stopped ({why})"),
    "ING065": ("error", "{file} 设有打开密码,无法读取;请在 Excel 或 WPS 中取消密码(文件 → 信息 → 保护工作簿)后重新保存上传",
               "{file} is password-protected"),
    "ING063": ("warning", "另有 {more} 处 [{code}] 同类问题未逐一列出(每类只列前 {shown} 处);请先改正上面列出的,再重新上传检查",
               "{more} more problems of {code} not listed (first {shown} shown)"),
    "ING060": ("error", "{file} 有 {size} MB,超过上限 {limit} MB;请只上传本乡镇的季度报表", "{file}: {size} MB, over the {limit} MB limit"),
    "ING061": ("error", "{file} 解压后过大({part}:{size} MB,压缩比 {ratio}:1;上限 {limit} MB、{max_ratio}:1),文件可能已损坏或不是报表;请用 Excel 或 WPS 重新保存后上传",
               "{file}: part {part} inflates to {size} MB (ratio {ratio}:1), over the limits"),
    "ING062": ("error", "{file} 的“{sheet}”表使用范围过大(到 {cell},{rows} 行 × {cols} 列;上限 {max_rows} 行 × {max_cols} 列);请删除表格以外的内容(包括远处的空格式单元格)后重新保存",
               "{file}: sheet {sheet} uses up to {cell} ({rows} rows × {cols} columns), over the limits"),
    # --- ingest: the store ----------------------------------------------------------
    "ING050": ("error", "没有需要导入的文件", "no files given"),
    "ING051": ("error", "找不到报送记录:{detail}", "no such submission: {detail}"),
    "ING052": ("error", "{township} {period} 的报表已于 {at} 由 {by} 审核通过并锁定,不能再覆盖;如需更正,请联系区县审核员解锁",
               "{township} {period} was approved on {at} by {by} and is locked; ask the county reviewer to unlock it"),
    # --- progress (indicators, progress, laggards, completeness, task and county updates) ----------
    "PRG001": ("error", "找不到目标 {target};可用 rural-targets targets 查看目标编号", "unknown target {target}"),
    "PRG002": ("error", "目标 {target} 不属于规划 {plan}", "target {target} is not a target of plan {plan}"),
    "PRG004": ("error", "层级 {level} 无效,可用:{known}", "unknown level {level}; known: {known}"),
    "PRG005": ("error", "状态 {status} 无效,可用:{known}", "unknown status {status}; known: {known}"),
    "PRG010": ("error", "找不到规划 {plan};可用的规划:{known}", "unknown plan {plan}; known plans: {known}"),
    "PRG011": ("error", "规划 {plan} 中没有督办任务 {task};可用的任务:{known}", "plan {plan} has no task {task}; known: {known}"),
    "PRG012": ("error", "{unit} 不是任务 {task} 的责任单位;责任单位:{known}", "{unit} is not responsible for task {task}; responsible: {known}"),
    "PRG013": ("error", "进展状态 {status} 无效,只能填 {known}", "unknown task status {status}; use {known}"),
    "PRG014": ("error", "任务 {task}({unit}):状态为\"已完成\"时必须填写完成日期,其他状态不填完成日期",
               "task {task} ({unit}): a done date goes with status 已完成 and only with it"),
    "PRG015": ("error", "{field} 的日期 {value} 无效(应为 YYYY-MM-DD)", "{field}: invalid date {value}"),
    "PRG016": ("error", "任务 {task} 的子项 {item} 无效;子项:{known}", "task {task}: invalid item {item}; items: {known}"),
    "PRG017": ("error", "任务 {task} 的周期 {cycle} 无效({rule})", "task {task}: invalid cycle {cycle} ({rule})"),
    "PRG020": ("error", "年份 {year} 无效(应为1990–2100之间的整数)", "invalid year {year}"),
    "PRG021": ("error", "区县情况表没有字段 {field};可用字段:{known}", "county sheet has no field {field}; known: {known}"),
    "PRG022": ("error", "字段 {field} 的值 {value} 无效", "invalid value {value} for {field}"),
    # --- accounts, roles, review -------------------------------------------------
    "AUTH001": ("error", "用户名或密码不正确", "wrong user name or password"),
    "AUTH002": ("error", "账户 {user} 已停用;请联系系统管理员", "account {user} is disabled"),
    "AUTH003": ("error", "账户 {user} 连续 {count} 次登录失败,已锁定到 {until};请稍后再试,或请系统管理员重置密码",
                "account {user} is locked until {until} after {count} failed sign-ins"),
    "AUTH004": ("error", "密码至少 {min} 位(现为 {length} 位)", "the password needs at least {min} characters"),
    "AUTH005": ("error", "用户名 {user} 已被使用,请换一个", "user name {user} is taken"),
    "AUTH006": ("error", "找不到用户 {user};可用 rural-targets user list 查看", "unknown user {user}"),
    "AUTH007": ("error", "角色 {role} 无效;可用:{known}", "unknown role {role}; known: {known}"),
    "AUTH008": ("error", "{role_zh}的所属单位应为{expected}级代码,{unit} 是{level}级", "role {role} needs a {expected} unit, {unit} is a {level}"),
    "AUTH009": ("error", "用户名 {user} 无效:只能用字母、数字、下划线、连字符或点,2–32 位", "invalid user name {user}"),
    "AUTH010": ("error", "{user}({role_zh})没有{action}的权限;如需办理,请联系{who}", "{user} ({role}) may not {action_en}"),
    "AUTH011": ("error", "{user}({role_zh},{home})不能{action}({target}):不在本账户管辖范围内;请由该单位的账户办理",
                "{user} ({role}, {home}) may not {action_en} {target}: outside the account's units"),
    "AUTH012": ("error", "登录已超时(超过 {minutes} 分钟未操作),请重新登录", "session expired after {minutes} idle minutes"),
    "AUTH013": ("error", "两次输入的密码不一致", "the two passwords differ"),
    "REV001": ("error", "找不到报送 {id};可用 rural-targets review list 查看", "no submission {id}"),
    "REV002": ("error", "报送 {id}({township} {period})当前为“{state}”,不能{action}", "submission {id} is {state_en}: cannot {action_en}"),
    "REV003": ("error", "{action}须写明{what}", "{action_en} needs a {what_en}"),
    "REV004": ("error", "报送 {id} 已被新的报送替换,不能{action};请处理当前有效的报送 {active}",
               "submission {id} was superseded by {active}"),
    # --- briefings and images -------------------------------------------------
    "RPT001": ("error", "生成图片需要 Chromium 浏览器,本机没有找到({detail})。请安装 chromium 和 fonts-noto-cjk(见 README)后重试",
               "making images needs Chromium, which was not found ({detail}); install chromium and fonts-noto-cjk"),
    "RPT002": ("error", "生成 PDF 需要 LibreOffice(soffice),本机没有找到。请安装 libreoffice-writer-nogui(见 README),或改存 .docx",
               "making a PDF needs LibreOffice (soffice); install libreoffice-writer-nogui or write a .docx"),
    "RPT003": ("error", "LibreOffice 未能把简报转成 PDF:{detail}", "LibreOffice could not convert the briefing to PDF: {detail}"),
    "RPT004": ("error", "输出文件 {file} 须以 .docx、.pdf 或 .pptx 结尾", "output file {file} must end in .docx, .pdf or .pptx"),
    "RPT005": ("error", "{unit}不在规划《{plan}》的范围内,没有可写入简报的目标;请换一个单位(--unit)或规划",
               "{unit} is outside plan {plan}: nothing to brief; choose another unit or plan"),
    "RPT007": ("error", "生成图片超时或失败({detail});请重试", "making an image failed or timed out ({detail}); try again"),
    # --- general ------------------------------------------------------------
    "GEN001": ("error", "文件 {file} 不存在", "file {file} does not exist"),
    "GEN002": ("error", "数据库 {name} 正被另一个程序写入,请稍后再试(DuckDB 同一时间只允许一个写入进程)",
               "database {db} is locked by another writer; try again later"),
    "GEN005": ("error", "内部错误({kind}),详情已记入日志 {log};请重试,如仍出现请把该日志交给系统管理员",
               "internal error ({kind}); details in {log}"),
    "GEN006": ("error", "数据库 {name} 无法打开:{detail}。程序不会覆盖或重建它;请用 rural-targets restore 从备份恢复,或请系统管理员处理",
               "database {db} cannot be opened ({detail}); it is left untouched: restore a backup"),
    "GEN007": ("error", "使用 DuckLake 数据库时须指定数据文件目录:--data-path 目录 或环境变量 RURAL_TARGETS_DATA_PATH(各服务器共享的目录)",
               "a DuckLake database needs its data directory: --data-path DIR or $RURAL_TARGETS_DATA_PATH"),
    "GEN008": ("error", "缺少 DuckDB {version} 的扩展包 {package},请安装:pip install {package}=={version}",
               "extension package {package} for DuckDB {version} is missing: pip install {package}=={version}"),
    "GEN009": ("error", "无法连接 DuckLake 数据库 {db}:{detail}。请检查 PostgreSQL 是否已启动、连接参数是否正确",
               "cannot attach the DuckLake database {db}: {detail}; is PostgreSQL running, is the connection string right?"),
    "ING070": ("error", "已有一个上报处理程序(rural-targets worker)在处理本数据库的上报队列({where});同一数据库文件只能运行一个",
               "an ingest worker already serves this database's queue ({where}); a DuckDB file has one worker"),
    "GEN003": ("error", "不支持的文件类型 {file},请使用 .xlsx、.xls、.xlsm 或 .csv", "unsupported file type {file}"),
    "GEN004": ("error", "找不到数据库结构文件 schema*.sql(在 {where});程序安装不完整,请重新安装",
               "no schema SQL (schema*.sql) in {where}; the installation is incomplete"),
    # --- dashboard --------------------------------------------------------------
    "DSH001": ("error", "页面出现内部错误({kind}),详情已记入服务器日志。请刷新页面重试;如仍出现,请联系系统管理员",
               "internal error ({kind}); details are in the server log"),
    "DSH002": ("warning", "链接中的{name} \"{value}\" 无效,已改用 {fallback}", "link parameter {name}={value} is invalid; using {fallback}"),
    "DSH003": ("warning", "数据库中还没有任何乡镇报表。请到「数据上报」页面上传报表,或在命令行运行 rural-targets init 导入示例数据",
               "no returns in the database yet; upload returns or run rural-targets init"),
    "DSH004": ("warning", "数据库中还没有区划名录。请在命令行运行 rural-targets init(示例数据)或 rural-targets registry load 文件",
               "no units in the database; run rural-targets init or registry load"),
    "DSH005": ("warning", "评估模块 {module} 尚未安装,本页暂不能显示;请更新程序后再试", "module {module} is not available yet"),
    "DSH006": ("warning", "所选规划不适用于{scope},或{scope}还没有可评估的数据;请在侧栏换一个规划或范围",
               "the plan does not apply to {scope}, or {scope} has no data to judge yet"),
    "DSH007": ("warning", "《{plan}》没有督办任务或按期完成类目标;任务清单见四川省规划(sichuan-2021),按期报送类目标见常德、潜江规划",
               "plan {plan} has no tasks or dated milestones"),
}

SEVERITIES = ("error", "warning")


def render(code: str, lang: str = "zh", /, **context: Any) -> str:
    """Fill the message template of ``code`` with ``context`` (missing keys render as '?')."""
    severity, zh, en = CATALOGUE[code]
    template = zh if lang == "zh" else en

    class _Default(dict):
        def __missing__(self, key: str) -> str:
            return "?"

    return template.format_map(_Default(context))


def severity_of(code: str) -> str:
    """The severity (error / warning) the catalogue gives ``code``."""
    return CATALOGUE[code][0]


class RuralTargetsError(Exception):
    """A problem the user can fix; carries a catalogue code and the context of its message."""

    def __init__(self, code: str, /, **context: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        self.code = code
        self.context = context
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        return render(self.code, "zh", **self.context)

    @property
    def message_en(self) -> str:
        return render(self.code, "en", **self.context)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message_zh}"

    def __reduce__(self) -> tuple:
        # pickled whole (it travels back from the ingest worker process), not rebuilt from its message
        return _rebuild, (type(self), self.code, self.context)


def _rebuild(cls: type, code: str, context: dict[str, Any]) -> RuralTargetsError:
    return cls(code, **context)


class ReportError(RuralTargetsError):
    """A briefing or image cannot be made (RPT…)."""


class CatalogError(RuralTargetsError):
    """The YAML catalog in schemas/ is invalid."""


class RegistryError(RuralTargetsError):
    """A registry file or a unit reference is invalid."""


class TemplateError(RuralTargetsError):
    """A return template cannot be produced."""


@dataclass
class Problem:
    """One problem found in an input, located as precisely as the input allows."""

    code: str
    context: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    cell: str | None = None
    field: str | None = None
    value: Any = None
    line: int | None = None

    @property
    def severity(self) -> str:
        return severity_of(self.code)

    @property
    def message(self) -> str:
        return render(self.code, "zh", **self.context)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "sheet": self.sheet,
            "cell": self.cell,
            "field": self.field,
            "line": self.line,
            "value": None if self.value is None else str(self.value),
            "message": self.message,
        }


class ProblemsError(RuralTargetsError):
    """An input was rejected; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = next((p for p in problems if p.severity == "error"), problems[0])
        super().__init__(first.code, **first.context)

    def __str__(self) -> str:
        more = sum(p.severity == "error" for p in self.problems) - 1
        return super().__str__() + (f"(另有 {more} 处错误)" if more > 0 else "")
