"""The apps' CSS: source cards, the referral block, the urgent alert, and phone-width layout."""

CSS = """
.urgent-alert { background: #fde8e8; border: 2px solid #c81e1e; color: #771d1d; border-radius: 8px;
  padding: 10px 12px; margin-bottom: 8px; font-size: 1.05em; }
.referral { background: #e8f1fd; border-left: 5px solid #1a56db; color: #1e3a8a; border-radius: 6px;
  padding: 8px 12px; margin-top: 8px; }
.sources { margin-top: 6px; }
.sources-head { font-weight: 600; margin-bottom: 4px; }
.source-card { border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 10px; margin: 4px 0; }
.source-card summary { cursor: pointer; }
.source-card .src-n, sup.fn { color: #1a56db; font-weight: 600; }
.source-card .src-quote { margin: 6px 0; font-style: italic; }
.source-card .src-meta { font-size: 0.9em; opacity: 0.85; }
#notice { font-size: 0.9em; }
@media (max-width: 480px) {
  .gradio-container { padding: 4px !important; }
  .source-card { padding: 2px 6px; }
  h2 { font-size: 1.2em; }
}
"""
# The console's own page: the runner's CSS (its answers show the same cards) and the sign-out button.
STAFF_CSS = CSS + """
.staff-banner { font-weight: 600; }
.staff-logout { text-align: right; }
.staff-logout button { padding: 4px 12px; border: 1px solid #d1d5db; border-radius: 6px; background: none; }
"""
