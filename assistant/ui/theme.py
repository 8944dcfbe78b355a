"""The apps' look: a theme on the system's own fonts, and CSS for source cards, alerts, the counter and phones."""

from __future__ import annotations

from typing import Any

# The system's fonts: nothing is fetched from a font service (the app works offline and its CSP allows only itself),
# and every letter comes from one font (Gradio's default stack fell back mid-word).
FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> Any:
    import gradio as gr

    return gr.themes.Default(font=FONTS, font_mono=MONO)


CSS = """
.urgent-alert { background: #fde8e8; border: 2px solid #c81e1e; color: #771d1d; border-radius: 8px;
  padding: 10px 12px; margin-bottom: 8px; font-size: 1.05em; }
.referral { background: #e8f1fd; border-left: 5px solid #1a56db; color: #1e3a8a; border-radius: 6px;
  padding: 8px 12px; margin-top: 8px; }
.sources { margin-top: 6px; }
.sources-head { font-weight: 600; margin-bottom: 4px; }
.src-article { margin: 6px 0; }
.src-article > .src-title { font-weight: 600; font-size: 0.95em; margin: 2px 0; }
.source-card { border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 10px; margin: 4px 0; }
.source-card.src-highlight { outline: 3px solid #1a56db; }
.source-card summary { cursor: pointer; }
.source-card .src-n, a.fn { color: #1a56db; font-weight: 600; }
a.fn { text-decoration: none; font-size: 0.8em; vertical-align: super; cursor: pointer; padding: 0 1px; }
a.fn:hover, a.fn:focus { text-decoration: underline; }
.dark a.fn, .dark .source-card .src-n { color: #93b4f5; }
.source-card .src-section { margin-left: 4px; }
.source-card .src-quote { margin: 6px 0; font-style: italic; }
.source-card .src-evidence, .source-card .src-refs { font-size: 0.9em; opacity: 0.9; }
.source-card .src-refs { margin: 4px 0; padding-left: 18px; }
.source-card .src-publisher { opacity: 0.85; }
#notice { font-size: 0.9em; }
#title h2 { margin: 0; }
/* A reply that is not an answer (rate limit, busy) offers no thumbs: its buttons follow its row. */
.message-row:has(.system-reply) + .message-buttons { display: none !important; }
#question-count { font-size: 0.85em; min-height: 0; color: #4b5563; background: transparent; padding: 2px 4px; }
#question-count.over { color: #9b1c1c; font-weight: 600; }
#question-count.shake { animation: knee-shake 0.3s 2; }
@keyframes knee-shake { 50% { transform: translateX(4px); } }
/* The navigation bar Gradio adds to multi-page apps, and its footer: a runner needs neither. */
.nav-holder, nav.fillable, footer { display: none !important; }
/* Inside the iframe of /embed.js: the chat fits the host page's window (--chat-height, set by chat.js), never the
   iframe's own height (vh), which follows the chat: that would grow without end. Gradio copies each rule under its
   container's class, and those copies match nothing with html in them, so the two html rules are the ones in force. */
html.embedded .gradio-container { padding: 4px 6px !important; }
html.embedded #chat { height: var(--chat-height, 440px) !important; }
@media (max-width: 480px) {
  .gradio-container { padding: 4px !important; }
  .source-card { padding: 2px 6px; }
  h2 { font-size: 1.2em; }
  html:not(.embedded) #chat { height: calc(100svh - 230px) !important; min-height: 300px; }
}
"""
# The console's own page: the runner's CSS (its answers show the same cards) and the sign-out button.
STAFF_CSS = CSS + """
.staff-banner { font-weight: 600; }
.staff-logout { text-align: right; }
.staff-logout button { padding: 4px 12px; border: 1px solid #d1d5db; border-radius: 6px; background: none; }
"""
