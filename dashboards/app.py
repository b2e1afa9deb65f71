"""trialsim dashboard: compare designs on power, cost and diversity.

    streamlit run dashboards/app.py -- RESULTS_DIR [RESULTS_DIR ...]   (or: trialsim dashboard RESULTS_DIR ...)

It reads the result directories it is given (``$TRIALSIM_RESULTS``, os.pathsep-separated, wins
over the command line) and never simulates on page load.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # the pages import the `dashboards` package
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboards import ui  # noqa: E402

st.set_page_config(page_title="trialsim: compare designs", page_icon=":material/monitoring:", layout="wide")

ui.sidebar(ui.results())
PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/table_view:", default=True),
    st.Page("views/power.py", title="Power", icon=":material/trending_up:"),
    st.Page("views/diversity.py", title="Diversity", icon=":material/diversity_3:"),
    st.Page("views/explorer.py", title="Trial explorer", icon=":material/search:"),
    st.Page("views/tradeoff.py", title="Trade-off", icon=":material/balance:"),
    st.Page("views/design.py", title="Design details", icon=":material/description:"),
]
st.navigation(PAGES).run()
