"""The trialsim dashboard: a Streamlit app over result directories (run it with ``trialsim dashboard DIR ...``).

- ``app.py``: the entry point (navigation, sidebar);
- ``loading.py``: reading and checking result directories, without Streamlit;
- ``tables.py``: the figures each page shows, as polars tables built from ``summary.json``;
- ``charts.py``: plotly figures over those tables;
- ``redraw.py``: re-drawing one trial's patients for the trial explorer;
- ``ui.py``: what the pages share (results of this session, colours, scenario pickers, messages);
- ``views/``: one module per page.
"""
