"""The dashboard's stylesheet: Chinese in place of the English texts Streamlit offers no setting for,
and a print layout (A4 landscape, no sidebar).

Streamlit draws some English of its own (file uploader, dropdowns, status widget, table menus). Where
no setting or parameter changes it, the English text is shrunk to nothing (``font-size: 0``) and a
Chinese text is drawn in its place (``::after``). The selectors are the ``data-testid`` names of
Streamlit 1.67's page; check them again after upgrading Streamlit (tests/test_browser_chinese.py).
"""
from __future__ import annotations

import streamlit as st

TEXT = "font-size: 0.875rem;"   # the size of Streamlit's small texts; rem, since the parent's font-size is 0

CHINESE = f"""
/* ---- file uploader: 「Upload」, 「200MB per file • XLSX …」, 「Drag and drop files here」 */
[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p {{
  font-size: 0; }}
[data-testid="stFileUploaderDropzone"] [data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p::after {{
  content: "选择文件"; {TEXT} }}
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{
  content: "或把文件拖到这里 · 每个文件不超过 " var(--rt-upload-limit, ""); {TEXT} }}
[data-testid="stFileUploaderDropzone"] > div:not([data-testid]) > span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] > div:not([data-testid]) > span::after {{ content: "松开鼠标即可添加文件"; {TEXT} }}

/* ---- an empty st.selectbox / st.multiselect without a placeholder of its own: 「Choose an option」 … */
input:is([placeholder="Choose an option"], [placeholder="Choose options"], [placeholder="No options to select"])::placeholder {{
  color: transparent; }}
:is([role="group"], [data-testid="stMultiSelectTagsContainer"]):has(> input:placeholder-shown:is(
    [placeholder="Choose an option"], [placeholder="Choose options"], [placeholder="No options to select"])) {{
  position: relative; }}
:is([role="group"], [data-testid="stMultiSelectTagsContainer"]):has(> input:placeholder-shown:is(
    [placeholder="Choose an option"], [placeholder="Choose options"], [placeholder="No options to select"]))::before {{
  position: absolute; left: 9px; top: 50%; transform: translateY(-50%); pointer-events: none; opacity: 0.7; {TEXT} }}
:is([role="group"], [data-testid="stMultiSelectTagsContainer"]):has(> input:placeholder-shown[placeholder="Choose an option"])::before {{
  content: "请选择"; }}
:is([role="group"], [data-testid="stMultiSelectTagsContainer"]):has(> input:placeholder-shown[placeholder="Choose options"])::before {{
  content: "请选择(可多选)"; }}
:is([role="group"], [data-testid="stMultiSelectTagsContainer"]):has(> input:placeholder-shown[placeholder="No options to select"])::before {{
  content: "没有可选的项"; opacity: 0.4; }}

/* ---- dropdowns of st.selectbox / st.multiselect: 「Select all」, 「No results」 */
[role="listbox"] [role="option"][data-key="__select_all__"] [data-item-hl] {{ font-size: 0; }}
[role="listbox"] [role="option"][data-key="__select_all__"] [data-item-hl]::after {{ content: "全选"; {TEXT} }}
[role="listbox"][data-empty="true"] > [role="option"] > span {{ font-size: 0; }}
[role="listbox"][data-empty="true"] > [role="option"] > span::after {{ content: "没有匹配的选项"; {TEXT} }}

/* ---- text inputs: 「Press Enter to apply」 (the first span; a second one counts the characters) */
[data-testid="InputInstructions"] > span:first-child {{ font-size: 0; }}
[data-testid="InputInstructions"] > span:first-child::after {{ content: "按回车键确认"; font-size: 0.75rem; }}
[data-testid="stForm"] [data-testid="InputInstructions"] > span:first-child::after {{ content: "按回车键提交"; }}
[data-testid="stTextArea"] [data-testid="InputInstructions"] > span:first-child::after {{ content: "按 Ctrl+回车键确认"; }}
[data-testid="stForm"] [data-testid="stTextArea"] [data-testid="InputInstructions"] > span:first-child::after {{
  content: "按 Ctrl+回车键提交"; }}

/* ---- date fields: the empty field's 「yyyy-mm-dd」 */
[data-testid="stDateInputField"] [role="spinbutton"][data-placeholder="true"] {{ font-size: 0; }}
[data-testid="stDateInputField"] [role="spinbutton"][data-placeholder="true"]::after {{ {TEXT} }}
[data-testid="stDateInputField"] [data-placeholder="true"][data-type="year"]::after {{ content: "年"; }}
[data-testid="stDateInputField"] [data-placeholder="true"][data-type="month"]::after {{ content: "月"; }}
[data-testid="stDateInputField"] [data-placeholder="true"][data-type="day"]::after {{ content: "日"; }}

/* ---- element toolbars (tables, maps): none; their buttons' tooltips (「Show/hide columns」, 「Search」,
   「Fullscreen」) cannot be reworded. The pages have their own download buttons. */
[data-testid="stElementToolbar"] {{ display: none; }}

/* ---- the column menu of st.dataframe keeps its two sorts, in Chinese */
[data-testid="stDataFrameColumnMenu"] [role="menu"] > :not([role="menuitem"]),
[data-testid="stDataFrameColumnMenu"] [role="menu"] > [role="menuitem"]:nth-child(n+3 of [role="menuitem"]) {{
  display: none; }}
[data-testid="stDataFrameColumnMenu"] [role="menu"] > [role="menuitem"] {{ font-size: 0; }}
[data-testid="stDataFrameColumnMenu"] [role="menu"] > [role="menuitem"]::after {{ {TEXT} }}
[data-testid="stDataFrameColumnMenu"] [role="menu"] > [role="menuitem"]:nth-child(1 of [role="menuitem"])::after {{
  content: "升序排列"; }}
[data-testid="stDataFrameColumnMenu"] [role="menu"] > [role="menuitem"]:nth-child(2 of [role="menuitem"])::after {{
  content: "降序排列"; }}

/* ---- the status widget at the top right: 「Stop」 while a page runs; 「File change. Rerun」 */
[data-testid="stStatusWidget"] button {{ font-size: 0; }}
[data-testid="stStatusWidget"] button::after {{ content: "停止"; {TEXT} }}
[data-testid="stStatusWidget"] button:disabled::after {{ content: "正在停止…"; }}
[data-testid="stStatusWidget"] > div:has(> [data-testid="stStatusWidgetRunningIcon"])::before {{
  content: "正在计算…"; {TEXT} margin-right: 0.25rem; white-space: nowrap; align-self: center; }}
[data-testid="stStatusWidget"] label {{ font-size: 0; }}
[data-testid="stStatusWidget"] label::after {{ content: "程序已更新。"; {TEXT} }}
[data-testid="stStatusWidget"] label ~ * button::after {{ content: "重新载入"; }}
[data-testid="stStatusWidget"] label ~ * + * button::after {{ content: "总是自动重新载入"; }}
/* ---- the map's own controls carry English tooltips (title attributes CSS cannot change): the map zooms
   with the wheel or two fingers and pans by dragging, as the map page says */
[data-testid="stDeckGlJsonChart"] .mapboxgl-ctrl {{ display: none; }}
[data-testid="stConnectionStatus"] label {{ font-size: 0; }}
[data-testid="stConnectionStatus"] label::after {{ content: "正在连接服务器…"; {TEXT} }}

/* ---- the box Streamlit opens when the server does not answer (its other boxes belong to the developer
   mode; a box of the app's own, st.dialog, has a markdown title and a block of elements: left alone) */
[data-testid="stDialog"] section > h2:not(:has([data-testid="stMarkdownContainer"])) {{ font-size: 0; }}
[data-testid="stDialog"] section > h2:not(:has([data-testid="stMarkdownContainer"]))::after {{
  content: "无法连接服务器"; font-size: 1.5rem; }}
[data-testid="stDialog"] section > h2 + div:not(:has([data-testid="stVerticalBlock"])) {{ font-size: 0; }}
[data-testid="stDialog"] section > h2 + div:not(:has([data-testid="stVerticalBlock"]))::after {{
  content: "与服务器的连接已中断。请检查网络,或请系统管理员确认服务正在运行;连接恢复后页面会自动重新连接。"; font-size: 1rem; }}

/* ---- the full-screen button Streamlit adds to plotly's toolbar (plotly's own buttons: ui.plotly_config) */
.modebar-btn[data-title="Fullscreen"]::after {{ content: "全屏" !important; }}
.modebar-btn[data-title="Close fullscreen"]::after {{ content: "退出全屏" !important; }}

/* ---- 「Deploy」, shown when the server runs in developer mode (--client.toolbarMode developer) */
[data-testid="stAppDeployButton"] {{ display: none; }}

/* ---- the keyboard users' 「Skip to main content」 */
[data-testid="stSkipToContent"] {{ font-size: 0; }}
[data-testid="stSkipToContent"]::after {{ content: "跳到正文"; font-size: 1rem; }}

"""

# The static tables of the print view (dashboard/ui.py: table): compact, bordered, wrapped.
TABLE = """
.rt-table-wrap { overflow-x: auto; margin-bottom: 0.5rem; }
table.rt-table { border-collapse: collapse; width: 100%; font-size: 12px; line-height: 1.35; }
table.rt-table th, table.rt-table td { border: 1px solid #9ca3af; padding: 2px 4px; vertical-align: top;
  overflow-wrap: anywhere; white-space: normal; }
table.rt-table th { background: #f3f4f6; font-weight: 600; text-align: center; }
table.rt-table td.rt-num { text-align: right; white-space: nowrap; }
table.rt-table td.rt-date { white-space: nowrap; }
table.rt-table td.rt-empty { text-align: center; color: #6b7280; }
"""

PRINT = """
@page { size: A4 landscape; margin: 10mm; }
@media print {
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stStatusWidget"], [data-testid="stDecoration"],
  [data-testid="stDownloadButton"], [data-testid="stElementToolbar"], [data-testid="stButton"],
  [data-testid="stPageLink"], [data-testid="stSkipToContent"], .modebar-container {
    display: none !important; }
  [data-testid="stMain"], [data-testid="stAppViewContainer"] { margin: 0 !important; width: 100% !important; }
  [data-testid="stMainBlockContainer"] { max-width: none !important; width: 100% !important;
    padding: 0 !important; }
  details::details-content { content-visibility: visible; display: block; }
  [data-testid="stExpanderDetails"] { display: block !important; }
  table.rt-table { font-size: 9pt; }
  table.rt-table thead { display: table-header-group; }
  table.rt-table tr, [data-testid="stPlotlyChart"], [data-testid="stMetric"] { break-inside: avoid; }
  .rt-table-wrap { overflow: visible; }
}
"""

CSS = CHINESE + TABLE + PRINT
RUN = "_theme_run"   # session state: this session's runs, counted (dashboard/ui.py draws 打印版式 once per run)


def apply() -> None:
    """Inject the stylesheet into the page (once per run, before the page draws) and count the run."""
    st.session_state[RUN] = st.session_state.get(RUN, 0) + 1
    limit = st.get_option("server.maxUploadSize")
    st.html(f'<style>:root {{ --rt-upload-limit: "{limit}MB"; }}{CSS}</style>')
