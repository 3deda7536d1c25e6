"""简报: the quarter's briefing (通报) of the selected plan for the selected scope, previewed here and
downloaded as Word, PDF or slides (pipelines.report: the same as `rural-targets briefing`)."""
import streamlit as st

from dashboard import queries, ui
from pipelines.errors import render
from pipelines.report import illustrate, images, tables
from pipelines.report.build import MIME
from pipelines.report.pdf import soffice

view = ui.view()
ui.page_header("简报", view, caption="本页内容即下载的简报;图、表和数字都来自已存数据")
ui.require_returns(view)

b = queries.briefing(view.plan, view.asof, view.scope, view.basis)
slug = f"简报_{view.scope_name}_{view.plan}_{view.asof}"
make = queries.briefing_maker(view.plan, view.asof, view.scope, view.basis)
formats = [(".docx", "⬇ Word(.docx)"), (".pdf", "⬇ PDF"), (".pptx", "⬇ 幻灯片(.pptx)")]
if images.browser_path() is None:
    st.warning(render("RPT001", detail="服务器上没有 chromium"))
    formats = []
elif soffice() is None:
    st.caption(render("RPT002"))
    formats = [f for f in formats if f[0] != ".pdf"]
if formats:
    st.markdown("**下载简报**(生成需 10–60 秒:先绘制全部图片,PDF 再由 LibreOffice 排版)")
row = st.container(horizontal=True)
for suffix, label in formats:
    row.download_button(label, data=lambda s=suffix: make(s), file_name=f"{slug}{suffix}", mime=MIME[suffix],
                        key=f"brief{suffix}", on_click="ignore", width="content")

with st.container(border=True):
    st.markdown(f"<h3 style='text-align:center;font-family:serif'>{b.title}</h3>"
                f"<p style='text-align:center'>({b.number})</p>", unsafe_allow_html=True)
    for text in b.summary():
        st.markdown(f"<p style='text-indent:2em;line-height:1.9'>{text}</p>", unsafe_allow_html=True)

    st.markdown("#### 一、总体情况")
    for f in illustrate.overview(b):
        ui.chart(f.fig, f"{f.name}_{view.scope_name}_{view.asof}", f"brief_{f.name}")
    ui.table(tables.overview_table(b), f"各目标进度_{view.scope_name}_{view.asof}", "brief_overview",
             title=b.title)

    st.markdown("#### 二、报送情况")
    st.markdown(b.summary()[1])
    missing = tables.missing_table(b)
    if missing.empty:
        st.markdown("本季度各乡镇(街道)均已报送。")
    else:
        ui.table(missing, f"未报送名单_{view.scope_name}_{view.asof}", "brief_missing")

    st.markdown("#### 三、滞后及未达标目标")
    if not b.parts:
        st.markdown("本季度没有进度滞后或逾期未达标的目标。")
    for i, part in enumerate(b.parts, start=1):
        st.markdown(f"**({i}){part.info['title']}({tables.status_text(part.row)})**")
        st.markdown(tables.part_paragraph(b, part))
        for f in illustrate.part_figures(b, part, i):
            ui.chart(f.fig, f"{f.name}_{view.scope_name}_{view.asof}", f"brief_{i}_{f.name}")
        ranked, _, note = tables.ranked_table(part)
        if not ranked.empty:
            st.caption(note)
            ui.table(ranked, f"{part.info['title']}_排名_{view.scope_name}_{view.asof}", f"brief_rank_{i}")

    st.markdown("#### 四、有关说明")
    for text in b.method_notes():
        st.markdown(f"- {text}")
    with st.expander("各目标的规划条款与测算口径"):
        for k, item in enumerate(b.targets(), start=1):
            info = item["info"]
            st.markdown(f"{k}. **{info['title']}**(目标 {info['target_text']}):{info['clause']}"
                        f"“{info['source_clause']}” 解读:{info['reading']}")
    st.markdown(f"<p style='text-align:right'>{b.issuer}<br>{b.date_text}</p>", unsafe_allow_html=True)
