"""Reusable Streamlit pieces shared by the pages. Only pages/, studio/ and Home.py import Streamlit."""

from streamlit.runtime.pages_manager import PagesManager

# Streamlit treats a folder named pages/ as its old folder-based menu (every file listed, run
# without Home.py) until some run calls st.navigation. Home.py always does, so leave that mode as
# soon as the studio is imported: page files then only ever run behind Home.py's login gate.
PagesManager.uses_pages_directory = False
