"""Tables and plots from result records (see `render.render_report`).

collect (read + validate + name methods/seeds) -> tables (data) -> render_latex / render_markdown /
render_csv (text) and plots (figures); reported adds numbers published in papers.
"""

from rsebench.report.render import render_report

__all__ = ["render_report"]
