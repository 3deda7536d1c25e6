"""数据上报: check returns (dry run), confirm to queue them for the ingest worker and follow their
state (排队中 → 检查中 → 已导入 / 有错误); blank templates; recent uploads."""

import streamlit as st

from dashboard import queries, ui, uploads
from pipelines.periods import quarters, shift

view = ui.view()
ui.page_header("数据上报", view)
ss = st.session_state
ss.setdefault("upload_gen", 0)
me = queries.user()
can_upload = queries.may("ingest")
for r in queries.review_queue("returned").itertuples():
    st.warning(f"{r.township_name} {ui.fmt_period(r.period)} 的报表(第 {r.id} 号)已被 {r.reviewed_by} 退回:"
               f"{r.review_comment}。请更正后重新上传。", icon="↩️")

tab_up, tab_tpl, tab_recent = st.tabs(["上传报表", "下载空白模板", "最近报送"])

# ------------------------------------------------------------------ upload: check, then confirm

def upload_tab() -> None:
    """Check the files (dry run), list every problem, store on confirmation."""
    st.markdown("把填好的乡镇季度报表拖到下面(可一次多个,.xlsx / .xls / .xlsm / .csv)。系统先**检查**每个文件、"
                "列出需要修改的单元格,**确认后**才导入数据库;同一乡镇同一季度再次上传会替换原报送(原报送保留可查),"
                "已审核通过的报送则已锁定,须先由区县审核员解锁。")
    files = st.file_uploader("选择报表文件", type=uploads.ACCEPTED, accept_multiple_files=True,
                             key=f"upload_files_{ss['upload_gen']}", help="可一次选择多个文件")
    payload = [(f.name, f.getvalue()) for f in files or []]
    day = queries.today()

    if ss.get("upload_jobs") and not payload:
        job_states()

    if payload:
        sig = uploads.signature(payload)
        if ss.get("upload_sig") != sig:
            bar = st.progress(0.0, text=f"正在检查 {len(payload)} 个文件 …")
            reports = queries.check_uploads(
                payload, progress=lambda i, n, r: bar.progress(i / n, text=f"已检查 {i}/{n}:{r.file}"))
            bar.empty()
            ss["upload_sig"], ss["upload_check"] = sig, reports
            ss.pop("upload_result", None)
        reports = ss["upload_check"]
        ok = [r for r in reports if r.status == "valid"]
        same = [r for r in reports if r.status == "unchanged"]
        bad = [r for r in reports if r.status == "rejected"]
        st.subheader("检查结果")
        c1, c2, c3 = st.columns(3)
        c1.metric("可以导入", len(ok))
        c2.metric("有错误", len(bad))
        c3.metric("与已导入相同", len(same))
        ui.table(uploads.report_table(reports, day), "报表检查结果", "upload_check")
        for r in reports:
            if uploads.is_late(r, day):
                st.warning(f"{r.township_name or r.file} {ui.fmt_period(r.period)} 的报表已过报送截止日:"
                           f"{uploads.lateness(r.period, day)}。", icon="⏰")
        if bad:
            st.error(f"{len(bad)} 个文件有错误,不能导入。请按下表逐个单元格修改后重新上传;其他文件不受影响。")
        for r in reports:
            if not r.problems:
                continue
            with st.expander(f"{'❌' if r.errors else '⚠️'} {r.file}:{len(r.errors)} 处错误,{len(r.warnings)} 条提示",
                             expanded=bool(r.errors) and len(reports) <= 3):
                st.table(uploads.problem_view(uploads.problem_table(r)), hide_index=True)
        problems = uploads.all_problems(reports)
        if not problems.empty:
            ui.downloads(problems, "报表问题清单", "upload_problems", title="报表问题清单")

        to_store = uploads.storable(reports, payload)
        st.caption(f"上传人:{me.label}(导入后为“待审核”,由区县审核员审核)")
        if st.button(f"确认导入 {len(to_store)} 个文件", type="primary", disabled=not to_store, key="upload_confirm"):
            jobs = queries.queue_uploads(to_store)
            ss["upload_jobs"] = [j.id for j in jobs]
            ss.pop("upload_sig", None)
            ss.pop("upload_check", None)
            ss["upload_gen"] += 1  # a fresh, empty uploader
            st.rerun()
        if not to_store and reports:
            st.info("没有可以导入的文件:请修改有错误的文件后重新上传。")


def job_states() -> None:
    """The state of the files handed to the queue, polled every second until all are done."""
    pending = [j for j in queries.upload_jobs(ss["upload_jobs"]) if j.state != "done"]
    st.fragment(run_every=1.0 if pending else None)(_job_table)()


def _job_table() -> None:
    jobs = queries.upload_jobs(ss["upload_jobs"])
    day = queries.today()
    waiting = [j for j in jobs if j.state != "done"]
    if waiting:
        st.info(f"已收到 {len(jobs)} 个文件,正在按到达顺序检查和导入({len(waiting)} 个未完成)。可以离开本页,"
                "导入不受影响;结果也会出现在「最近报送」中。", icon="⏳")
        if not queries.worker_running():
            st.warning("上报处理程序暂未运行:文件已保存在上报队列中,处理程序启动后会按顺序导入。如长时间未处理,请联系系统管理员。")
    reports = {j.id: queries.job_report(j) for j in jobs if j.state == "done"}
    st.table(uploads.job_view(jobs, reports, day), hide_index=True)
    done = [r for r in reports.values()]
    bad = [r for r in done if r.status == "rejected"]
    if not waiting:
        st.success(f"处理完成:共 {len(jobs)} 个文件,已导入 {sum(r.status in ('stored', 'unchanged') for r in done)} 个,"
                   f"有错误 {len(bad)} 个。")
    for r in done:
        if r.problems:
            with st.expander(f"{'❌' if r.errors else '⚠️'} {r.file}:{len(r.errors)} 处错误,{len(r.warnings)} 条提示",
                             expanded=bool(r.errors) and len(jobs) <= 3):
                st.table(uploads.problem_view(uploads.problem_table(r)), hide_index=True)
    if not waiting and ss.get("_jobs_pending"):
        ss["_jobs_pending"] = False
        st.rerun()                       # the other parts of the page (returned returns, recent list) follow
    ss["_jobs_pending"] = bool(waiting)


with tab_up:
    if can_upload:
        upload_tab()
    else:
        st.info(f"{me.role_zh}不上传报表:报表由乡镇填报员或区县审核员上传。可在「最近报送」查看各乡镇的报送和审核状态。")

# ------------------------------------------------------------------ blank templates
with tab_tpl:
    st.markdown("为一个乡镇下载空白季度报表(.xlsx,已预填所辖村),或为整个区县下载全部乡镇的报表(.zip)。")
    today = queries.today()
    last_done = shift(f"{today.year}Q{(today.month - 1) // 3 + 1}", -1)
    choices = list(reversed(quarters("2018Q4", shift(last_done, 1))))
    period = st.selectbox("报告期", choices, index=choices.index(last_done), format_func=ui.fmt_period,
                          key="tpl_period")
    kind = st.radio("范围", ["一个乡镇(xlsx)", "整个区县(zip)"], horizontal=True, key="tpl_kind")
    counties = queries.units(level="county", parent=view.city) if view.city else queries.units(level="county")
    counties = counties[[me.covers(c) or c == (me.unit or "")[:6] + "000000" for c in counties["code"]]]
    if counties.empty:
        ui.catalogue_warning("DSH004")
    else:
        cnames = dict(zip(counties["code"], counties["name"]))
        copts = list(counties["code"])
        county = st.selectbox("区县", copts, index=copts.index(view.county) if view.county in copts else 0,
                              format_func=cnames.get, key="tpl_county")
        if kind.startswith("一个乡镇"):
            towns = queries.units(level="township", parent=county)
            towns = towns[[me.covers(c) for c in towns["code"]]]
            tnames = dict(zip(towns["code"], towns["name"]))
            topts = list(towns["code"])
            town = st.selectbox("乡镇(街道)", topts, index=topts.index(view.township) if view.township in topts else 0,
                                format_func=tnames.get, key="tpl_township")
            name = queries.township_template_name(town, period)
            data = lambda: queries.township_template(town, period)  # noqa: E731 - built when clicked
        else:
            name = queries.county_templates_name(county, period)
            data = lambda: queries.county_templates(county, period)  # noqa: E731
        st.download_button(f"⬇ 下载 {name}", data=data, file_name=name, key="tpl_download", on_click="ignore",
                           mime=ui.XLSX_MIME if name.endswith(".xlsx") else "application/zip", type="primary")

# ------------------------------------------------------------------ recent uploads
with tab_recent:
    recent = queries.recent_submissions(view.scope, limit=200)
    if recent.empty:
        st.info("所选范围内还没有报送。")
    else:
        shown = recent.rename(columns={
            "id": "报送编号", "township_code": "乡镇代码", "township_name": "乡镇(街道)", "period": "报告期",
            "file_name": "文件", "uploaded_at": "上传时间", "uploaded_by": "上传人", "status": "状态",
            "superseded_by": "被替换为", "village_rows": "村数", "warnings": "提示数", "review_status": "审核",
            "reviewed_by": "审核人", "reviewed_at": "审核时间", "review_comment": "审核意见"})
        shown["状态"] = shown["状态"].map({"active": "有效", "superseded": "已被替换"}).fillna(shown["状态"])
        shown["审核"] = shown["审核"].map(queries.REVIEW_ZH).fillna("")
        shown["报告期"] = shown["报告期"].map(ui.fmt_period)
        ui.table(shown, f"最近报送_{view.scope_name}", "recent",
                 column_config={"上传时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                "审核时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
