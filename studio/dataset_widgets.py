"""Dataset widgets: the list, forms, upload with live progress and report, thumbnail grid, statistics."""

from __future__ import annotations

from typing import Any

import streamlit as st

from backend.context import Ctx
from backend.datasets import service
from backend.datasets.ingest import UploadFile, report_of, start_upload
from backend.datasets.kohya import export_kohya_bytes
from backend.datasets.models import DatasetOut, IngestReport
from backend.jobs import service as jobs
from studio.feedback import attempt
from studio.jobs import live_job

SELECTED = "dataset_selected"
PAGE_SIZE = 12
GRID_COLUMNS = 4
SORT_LABELS = {"created": "Newest", "name": "Name", "images": "Image count"}


def _ingest_jobs() -> dict[str, str]:
    return st.session_state.setdefault("dataset_ingest_jobs", {})


def dataset_list(ctx: Ctx) -> str | None:
    """The workspace's datasets (sorted, paged, with the total); returns the selected id."""
    c1, c2, c3 = st.columns([2, 2, 1])
    sort = c1.selectbox("Sort by", list(SORT_LABELS), format_func=SORT_LABELS.__getitem__, key="ds_sort")
    search = c2.text_input("Search", key="ds_search", placeholder="name contains…")
    page_size = 20
    page_no = int(st.session_state.get("ds_page", 0))
    rows, total = service.list_datasets(ctx, sort=sort, search=search or None, limit=page_size, offset=page_no * page_size)
    pages = max(1, -(-total // page_size))
    c3.metric("Datasets", total)
    if not rows:
        st.info("No datasets yet: create one below." if not search else "No dataset matches.")
        return None
    st.dataframe(
        [{"Name": d.name, "Images": d.image_count, "Trigger": d.trigger_word, "Class": d.class_word, "Created": d.created_at.strftime("%Y-%m-%d %H:%M")} for d in rows],
        hide_index=True,
        width="stretch",
    )
    if pages > 1:
        p1, p2, p3 = st.columns([1, 2, 1])
        if p1.button("Previous", disabled=page_no == 0, key="ds_prev"):
            st.session_state["ds_page"] = page_no - 1
            st.rerun()
        p2.caption(f"Page {page_no + 1} of {pages}")
        if p3.button("Next", disabled=page_no + 1 >= pages, key="ds_next"):
            st.session_state["ds_page"] = page_no + 1
            st.rerun()
    ids = [d.id for d in rows]
    names = {d.id: f"{d.name} ({d.image_count} images)" for d in rows}
    current = st.session_state.get(SELECTED)
    index = ids.index(current) if current in ids else 0
    chosen = st.selectbox("Open dataset", ids, index=index, format_func=names.__getitem__, key="ds_open")
    st.session_state[SELECTED] = chosen
    return chosen


def new_dataset_form(ctx: Ctx) -> None:
    """Name, trigger word, class word, description, default repeats."""
    with st.expander("New dataset", expanded=not service.list_datasets(ctx, limit=1)[1]):
        with st.form("new_dataset", clear_on_submit=True):
            name = st.text_input("Name", key="new_ds_name")
            c1, c2, c3 = st.columns(3)
            trigger = c1.text_input("Trigger word", key="new_ds_trigger", help="a rare token that will stand for the character, e.g. ohwx")
            class_word = c2.text_input("Class word", key="new_ds_class", help="what the character is, e.g. woman")
            repeats = c3.number_input("Default repeats", min_value=1, max_value=1000, value=10, key="new_ds_repeats")
            description = st.text_area("Description", key="new_ds_description")
            if st.form_submit_button("Create dataset", type="primary", disabled=not ctx.can_edit):
                ds = attempt(
                    lambda: service.create_dataset(ctx, name=name, trigger_word=trigger, class_word=class_word, description=description, default_repeats=int(repeats)),
                    success="Dataset created.",
                    rerun=True,
                )
                if ds is not None:
                    st.session_state[SELECTED] = ds.id


def upload_panel(ctx: Ctx, ds: DatasetOut) -> None:
    """Several images or a .zip (captions as same-name .txt); then live progress and the report."""
    files = st.file_uploader(
        "Images (JPEG, PNG, WebP), their .txt captions, or a .zip",
        accept_multiple_files=True,
        key=f"upload_{ds.id}_{st.session_state.get(f'upload_round_{ds.id}', 0)}",
        disabled=not ctx.can_edit,
    )
    if st.button("Upload", type="primary", disabled=not files or not ctx.can_edit, key=f"upload_btn_{ds.id}"):
        uploads = [UploadFile(name=f.name, data=f.getvalue()) for f in files or []]
        job = attempt(lambda: start_upload(ctx, ds.id, uploads))
        if job is not None:
            _ingest_jobs()[ds.id] = job.id
            st.session_state[f"upload_round_{ds.id}"] = st.session_state.get(f"upload_round_{ds.id}", 0) + 1
            st.rerun()
    job_id = _ingest_jobs().get(ds.id)
    if job_id:
        st.markdown("**Last upload**")
        live_job(ctx, job_id, key=f"ingest_{job_id}")
        job = jobs.get(ctx, job_id)
        report = report_of(job)
        if report is not None:
            report_view(report)


def report_view(report: IngestReport) -> None:
    """Accepted, refused (with reasons) and warnings, file by file."""
    c1, c2, c3 = st.columns(3)
    c1.metric("Accepted", len(report.accepted))
    c2.metric("Refused", len(report.rejected))
    c3.metric("Warnings", len(report.warnings))
    if report.rejected:
        st.dataframe([{"File": r["file"], "Reason": r["reason"]} for r in report.rejected], hide_index=True, width="stretch")
    if report.warnings:
        st.dataframe([{"File": w["file"], "Warning": w["warning"]} for w in report.warnings], hide_index=True, width="stretch")
    if report.accepted:
        with st.expander(f"{len(report.accepted)} accepted files"):
            st.write(", ".join(report.accepted))


def image_grid(ctx: Ctx, ds: DatasetOut) -> None:
    """A paginated thumbnail grid with caption, repeats and removal per image."""
    key = f"grid_page_{ds.id}"
    page_no = int(st.session_state.get(key, 0))
    images, total = service.list_images(ctx, ds.id, limit=PAGE_SIZE, offset=page_no * PAGE_SIZE)
    if total and not images and page_no:
        st.session_state[key] = 0
        st.rerun()
    pages = max(1, -(-total // PAGE_SIZE))
    st.caption(f"{total} images · page {page_no + 1} of {pages}")
    if not images:
        st.info("No images yet: upload some above.")
        return
    thumbs = service.thumbnails(ctx, [i.id for i in images])
    cols = st.columns(GRID_COLUMNS)
    for n, img in enumerate(images):
        with cols[n % GRID_COLUMNS].container(border=True):
            st.image(thumbs[img.id], caption=f"{img.filename} · {img.width}×{img.height}", width="stretch")
            for w in img.warnings:
                st.caption(f":orange[⚠ {w}]")
            with st.form(f"img_{img.id}", border=False):
                caption = st.text_area("Caption", value=img.caption or "", key=f"cap_{img.id}", height=80)
                repeats = st.number_input("Repeats", min_value=0, max_value=1000, value=img.repeats or 0, key=f"rep_{img.id}",
                                          help=f"0 = the dataset default ({ds.default_repeats})")
                if st.form_submit_button("Save", disabled=not ctx.can_edit):
                    attempt(lambda: (service.set_caption(ctx, img.id, caption), service.set_repeats(ctx, img.id, int(repeats) or None)),
                            success="Saved.", rerun=True)
            st.checkbox("Select", key=f"sel_{img.id}")
    selected = [i.id for i in images if st.session_state.get(f"sel_{i.id}")]
    c1, c2, c3 = st.columns([1, 2, 1])
    if c1.button("Previous page", disabled=page_no == 0, key=f"prev_{ds.id}"):
        st.session_state[key] = page_no - 1
        st.rerun()
    if c2.button(f"Remove {len(selected)} selected", disabled=not selected or not ctx.can_edit, key=f"remove_{ds.id}"):
        attempt(lambda: service.remove_images(ctx, ds.id, selected), success=f"Removed {len(selected)} images.", rerun=True)
    if c3.button("Next page", disabled=page_no + 1 >= pages, key=f"next_{ds.id}"):
        st.session_state[key] = page_no + 1
        st.rerun()


BULK_OPS = {
    "add_trigger": "Add the trigger word where missing",
    "prefix": "Add a prefix",
    "suffix": "Add a suffix",
    "replace": "Find and replace",
}


def bulk_tools(ctx: Ctx, ds: DatasetOut) -> None:
    """Caption tools over the whole dataset."""
    with st.form(f"bulk_{ds.id}"):
        op = st.selectbox("Caption tool", list(BULK_OPS), format_func=BULK_OPS.__getitem__)
        c1, c2 = st.columns(2)
        text = c1.text_input("Text (prefix / suffix)")
        find = c1.text_input("Find")
        replace = c2.text_input("Replace with")
        if st.form_submit_button("Apply to all captions", disabled=not ctx.can_edit):
            n = attempt(lambda: service.bulk_caption(ctx, ds.id, op, text=text, find=find, replace=replace))  # type: ignore[arg-type]
            if n is not None:
                from studio.feedback import flash

                flash(f"{n} captions changed.")
                st.rerun()


def stats_panel(ctx: Ctx, ds: DatasetOut) -> None:
    """Count, resolutions, caption coverage, the trainer's buckets (chart) and advice."""
    resolution = st.selectbox("Training resolution", [512, 768, 1024], key=f"res_{ds.id}")
    s = service.stats(ctx, ds.id, resolution=int(resolution))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Images", s.count)
    c2.metric("Captioned", f"{s.caption_coverage * 100:.0f}%")
    c3.metric("Smallest", f"{s.min_width}×{s.min_height}" if s.count else "–")
    c4.metric("Largest", f"{s.max_width}×{s.max_height}" if s.count else "–")
    if s.count:
        st.caption(f"Mean size {s.mean_width:.0f}×{s.mean_height:.0f} · {s.total_repeats} image repeats per epoch")
    for w in s.warnings:
        st.warning(w)
    if s.buckets:
        st.markdown("**Aspect-ratio buckets the trainer will use**")
        data: dict[str, Any] = {"bucket": [f"{b.width}×{b.height}" for b in s.buckets], "images": [b.count for b in s.buckets]}
        st.bar_chart(data, x="bucket", y="images")


def settings_panel(ctx: Ctx, ds: DatasetOut) -> None:
    """Rename and edit the dataset; delete it with its files."""
    with st.form(f"edit_{ds.id}"):
        name = st.text_input("Name", value=ds.name)
        c1, c2, c3 = st.columns(3)
        trigger = c1.text_input("Trigger word", value=ds.trigger_word)
        class_word = c2.text_input("Class word", value=ds.class_word)
        repeats = c3.number_input("Default repeats", min_value=1, max_value=1000, value=ds.default_repeats)
        description = st.text_area("Description", value=ds.description)
        if st.form_submit_button("Save changes", disabled=not ctx.can_edit):
            attempt(lambda: service.update_dataset(ctx, ds.id, name=name, trigger_word=trigger, class_word=class_word,
                                                   description=description, default_repeats=int(repeats)),
                    success="Dataset saved.", rerun=True)
    with st.expander("Delete this dataset"):
        st.write("Deletes every image and file of the dataset. This cannot be undone.")
        confirm = st.text_input("Type the dataset's name to confirm", key=f"del_confirm_{ds.id}")
        if st.button("Delete dataset", type="primary", disabled=confirm != ds.name or not ctx.can_edit, key=f"del_{ds.id}"):
            if attempt(lambda: service.delete_dataset(ctx, ds.id), success=f"Deleted {ds.name}.", rerun=True) is not None:
                st.session_state.pop(SELECTED, None)


def export_panel(ctx: Ctx, ds: DatasetOut) -> None:
    """A kohya-layout zip to download."""
    st.caption("Folders `{repeats}_{trigger} {class}` with each image and its .txt caption, as kohya_ss expects.")
    if st.button("Prepare kohya zip", key=f"export_{ds.id}", disabled=ds.image_count == 0):
        data = attempt(lambda: export_kohya_bytes(ctx, ds.id))
        if data is not None:
            st.session_state[f"export_data_{ds.id}"] = data
    data = st.session_state.get(f"export_data_{ds.id}")
    if data:
        st.download_button("Download zip", data, file_name=f"{ds.name}.zip", mime="application/zip", key=f"dl_{ds.id}")
