// The runner chat's behaviour in the browser. Served by the app itself (the page's CSP allows scripts from 'self').
// - A new reply opens at its start (an urgent reply's alert first), not at its end.
// - Clicking a [n] marker opens its source card.
// - A character counter near the message limit; a message over the limit is not sent.
// - Inside an iframe placed by /embed.js: the chat fits the host page's window and reports its height.
(() => {
  "use strict";
  const PREFIX = "knee-assistant:";

  // ---- A new reply opens at its start -------------------------------------------------------------------------
  // When a reply's row appears it is still short, so the chat cannot yet scroll far enough to put its start at the
  // top; the start is therefore held there while the reply streams in, until the runner scrolls or taps themselves.
  let rowCount = 0;
  let pinned = -1;  // index of the bot row whose start is held at the top, or -1
  let alertShown = null;

  function scroller(el, root) {
    for (let node = el.parentElement; node && node !== root.parentElement; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight) return node;
    }
    return null;
  }

  function showStart(row) {
    const root = document.getElementById("chat");
    if (!root) return;
    const box = scroller(row, root);
    if (box) {
      const offset = row.getBoundingClientRect().top - box.getBoundingClientRect().top - 4;
      if (Math.abs(offset) > 2) box.scrollTop += offset;
    }
    const top = (box || row).getBoundingClientRect().top;
    // On a phone the chat may start above the screen (the page was scrolled to the input): bring its top back.
    if (top < 0 || top > window.innerHeight * 0.5) window.scrollBy(0, top - 4);
  }

  function onChatChange() {
    const rows = document.querySelectorAll("#chat .bot-row");
    if (rows.length > rowCount) pinned = rows.length - 1;  // a new reply
    rowCount = rows.length;
    const row = rows.length ? rows[rows.length - 1] : null;
    if (!row) return;
    if (pinned === rows.length - 1) showStart(row);
    if (row.querySelector(".urgent-alert") && alertShown !== row) {
      alertShown = row;
      showStart(row);
    }
  }

  // The runner taking over (scrolling, tapping, typing) ends the hold; the next reply starts a new one.
  ["wheel", "touchstart", "keydown", "pointerdown"].forEach((type) => document.addEventListener(type, () => {
    pinned = -1;
  }, { passive: true, capture: true }));

  // What appears below the chat after an action (the counter's warning, the "what was wrong?" choices) is brought
  // on screen: on a phone it would otherwise open below the fold, unseen.
  const shown = {};
  function showBelow() {
    for (const id of ["feedback-reason", "question-count"]) {
      const el = document.getElementById(id);
      const text = el && el.offsetParent !== null ? el.textContent.trim() : "";
      if (text && shown[id] !== text) {  // newly shown, or its words changed (the counter as one types)
        const box = el.getBoundingClientRect();
        if (box.bottom > window.innerHeight || box.top < 0) el.scrollIntoView({ block: "nearest" });
      }
      shown[id] = text;
    }
  }

  // ---- [n] opens its source card ------------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const marker = event.target instanceof Element ? event.target.closest("#chat a.fn") : null;
    if (!marker) return;
    event.preventDefault();
    event.stopPropagation();
    const n = (marker.textContent.match(/\d+/) || [""])[0];
    const message = marker.closest(".bot-row") || marker.closest(".message") || document;
    const card = n ? message.querySelector(`details.source-card.cites-${n}`) : null;
    if (!card) return;
    card.open = true;
    card.classList.add("src-highlight");
    setTimeout(() => card.classList.remove("src-highlight"), 1600);
    card.scrollIntoView({ block: "nearest" });
    const summary = card.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
  }, true);

  // ---- Character counter ----------------------------------------------------------------------------------------
  // The limit comes from the input's class (max-chars-N); the counter is made here, under the input.
  function limitOf() {
    const el = document.getElementById("question");
    const match = el ? el.className.match(/max-chars-(\d+)/) : null;
    return match ? parseInt(match[1], 10) : 0;
  }

  function counter() {
    let el = document.getElementById("question-count");
    const input = document.getElementById("question");
    if (!el && input) {
      el = document.createElement("div");
      el.id = "question-count";
      el.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", el);
    }
    return el;
  }

  function box() {
    return document.querySelector("#question textarea");
  }

  function tooLong() {
    const input = box();
    const limit = limitOf();
    return Boolean(input && limit && input.value.length > limit);
  }

  function updateCounter() {
    const input = box();
    const el = input ? counter() : null;
    if (!el || !input) return;
    const limit = limitOf();
    const used = input.value.length;
    const fmt = (x) => x.toLocaleString("en");
    let words = "";
    let state = "";
    if (limit && used > limit) {
      words = `${fmt(used)} / ${fmt(limit)} characters: too long to send. Please shorten your message by ` +
        `${fmt(used - limit)} characters.`;
      state = "over";
    } else if (limit && used >= limit * 0.8) {
      words = `${fmt(used)} / ${fmt(limit)} characters`;
      state = "near";
    }
    // Only real changes touch the page: the observer below would otherwise wake itself up forever.
    if (el.textContent !== words) el.textContent = words;
    el.classList.toggle("over", state === "over");
    el.classList.toggle("near", state === "near");
  }

  document.addEventListener("input", (event) => {
    if (event.target === box()) {
      updateCounter();
      showBelow();
    }
  });

  // A message over the limit is not sent (the server would refuse it too, with the same advice).
  function holdBack(event) {
    if (!tooLong()) return;
    const input = box();
    const isEnter = event.type !== "click" && event.target === input && event.key === "Enter" && !event.shiftKey;
    const isSend = event.type === "click" && event.target instanceof Element && event.target.closest("#question button");
    if (isEnter || isSend) {
      event.preventDefault();
      event.stopImmediatePropagation();
      updateCounter();
      const el = document.getElementById("question-count");
      if (el) el.classList.add("shake");
      setTimeout(() => el && el.classList.remove("shake"), 600);
    }
  }
  ["keydown", "keypress", "click"].forEach((type) => document.addEventListener(type, holdBack, true));

  // ---- Inside an iframe placed by /embed.js -----------------------------------------------------------------
  const embedded = window.parent !== window && new URLSearchParams(location.search).has("embed");
  if (embedded) {
    document.documentElement.classList.add("embedded");
    // The chat's own height is what the host's window leaves after everything else on the page (title, notice,
    // input): so the whole chat, input included, fits the visitor's screen, and nothing depends on the iframe's height.
    let hostHeight = 0;
    const fit = () => {
      const chat = document.getElementById("chat");
      if (!hostHeight || !chat) return;
      const others = shownHeight() - chat.getBoundingClientRect().height;
      const wanted = Math.max(300, Math.floor(hostHeight - others - 8));
      document.documentElement.style.setProperty("--chat-height", `${wanted}px`);
    };
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent || !event.data || event.data.type !== PREFIX + "viewport") return;
      const height = Number(event.data.height);
      if (height > 0 && height < 10000) {
        hostHeight = height;
        fit();
      }
    });
    // The height of what is shown (not of the page, whose minimum height is the iframe's own: that would only grow).
    const SHOWN = ["#title", "#notice", "#chat", "#question", "#question-count", "#feedback-status", "#feedback-reason"];
    function shownHeight() {
      let bottom = 0;
      for (const selector of SHOWN) {
        const el = document.querySelector(selector);
        if (el && el.offsetParent !== null) bottom = Math.max(bottom, el.getBoundingClientRect().bottom);
      }
      return bottom ? Math.ceil(bottom + window.scrollY + 8) : 0;
    }
    let reported = 0;
    const report = () => {
      const height = shownHeight();
      if (height && Math.abs(height - reported) > 2) {
        reported = height;
        window.parent.postMessage({ type: PREFIX + "height", height }, "*");  // a number only: nothing private
        fit();
      }
    };
    new ResizeObserver(report).observe(document.body);
    setInterval(report, 1000);
  }

  // ---- Wiring: Gradio renders the page after this script runs ---------------------------------------------------
  const observer = new MutationObserver(() => {
    onChatChange();
    updateCounter();
    showBelow();
    nameSendButton();
  });
  // Gradio's send button has no accessible name.
  function nameSendButton() {
    const button = document.querySelector("#question button:not([aria-label])");
    if (button) button.setAttribute("aria-label", "Send");
  }

  function start() {
    observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    setInterval(updateCounter, 1000);  // the box is emptied by the app after sending, without an input event
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
