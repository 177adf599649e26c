"""Reusable Streamlit pieces shared by the pages. Only pages/, studio/ and Home.py import Streamlit."""
