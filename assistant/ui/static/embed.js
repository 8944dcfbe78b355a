// Put the Runner's Knee Assistant on any page:
//   <div data-knee-assistant></div>
//   <script src="https://chat.clinic.example/embed.js" async></script>
// The chat's address is taken from this script's own address, so it is set in one place. The chat runs in an
// iframe served by the app (no Gradio files are loaded into the host page), and the iframe's height follows the chat,
// which sizes itself to the host page's window: on a phone the whole chat, input included, fits the screen.
// The host page must be listed in the app's ui.frame_ancestors setting.
(() => {
  "use strict";
  const PREFIX = "knee-assistant:";
  const script = document.currentScript;
  if (!script || !script.src) return;
  const base = new URL(".", script.src);  // the app's root, with its sub-path if it has one
  const origin = base.origin;
  let hosts = Array.from(document.querySelectorAll("[data-knee-assistant]"));
  if (!hosts.length) {
    const div = document.createElement("div");
    script.insertAdjacentElement("afterend", div);
    hosts = [div];
  }
  const frames = [];
  for (const host of hosts) {
    if (host.querySelector("iframe.knee-assistant")) continue;
    const frame = document.createElement("iframe");
    const src = new URL("./", base);
    src.searchParams.set("embed", "1");
    src.searchParams.set("__theme", host.getAttribute("data-theme") === "dark" ? "dark" : "light");
    frame.src = src.href;
    frame.className = "knee-assistant";
    frame.title = host.getAttribute("data-title") || "Runner's Knee Assistant chat";
    frame.setAttribute("allow", "clipboard-write");
    frame.style.cssText = "display:block;width:100%;border:0;min-height:320px;" +
      `height:${Math.min(window.innerHeight, 760)}px;color-scheme:normal;`;
    frame.addEventListener("load", () => tell(frame));
    host.appendChild(frame);
    frames.push(frame);
    // A chat that never reports (this site is not in the app's ui.frame_ancestors, or the app is down) would leave a
    // blank box: visitors get a link instead, and the web person a hint in the console.
    setTimeout(() => {
      if (frame.dataset.alive) return;
      frame.style.display = "none";
      const note = document.createElement("p");
      note.className = "knee-assistant-unavailable";
      const link = document.createElement("a");
      link.href = new URL("./", base).href;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = "Open the knee-pain chat in a new tab";
      note.append("The chat cannot be shown here right now. ", link, ".");
      host.appendChild(note);
      console.warn(`Runner's Knee Assistant: no answer from ${origin} in the frame. If the chat opens in its own ` +
        `tab, add ${location.origin} to the app's ui.frame_ancestors setting.`);
    }, 15000);
  }

  function tell(frame) {
    if (frame.contentWindow) {
      frame.contentWindow.postMessage({ type: PREFIX + "viewport", height: window.innerHeight }, origin);
    }
  }

  window.addEventListener("resize", () => frames.forEach(tell));
  // The chat reports its height once its script runs (after the iframe's load event) and whenever it changes; each
  // report is answered with this window's height, which the chat sizes itself to.
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || !event.data || event.data.type !== PREFIX + "height") return;
    const frame = frames.find((f) => f.contentWindow === event.source);
    const height = Number(event.data.height);
    if (!frame) return;
    if (!frame.dataset.alive) {  // reported after the fallback appeared (a slow start): show the chat after all
      frame.dataset.alive = "1";
      frame.style.display = "block";
      const note = frame.parentElement && frame.parentElement.querySelector(".knee-assistant-unavailable");
      if (note) note.remove();
    }
    if (height >= 200 && height <= 10000) frame.style.height = `${Math.ceil(height)}px`;
    if (frame.dataset.told !== String(window.innerHeight)) {
      frame.dataset.told = String(window.innerHeight);
      tell(frame);
    }
  });
})();
