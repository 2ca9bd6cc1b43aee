// The consoles' forms without a reload: a form marked `js-action` is posted with fetch and the
// answer (the fragment it changed) replaces its `data-target`; a whole page (a 403, say) replaces
// the document. Without JavaScript the same forms post normally. Requests on one target run one
// after another, so a live refresh never lands before (or is overwritten by) an older answer.
"use strict";

const queues = new WeakMap();

function inTurn(target, work) {
  const next = (queues.get(target) || Promise.resolve()).then(work, work);
  queues.set(target, next.catch(() => {}));
  return next;
}

async function swapFrom(response, target) {
  const text = await response.text();
  if (/^\s*<!doctype/i.test(text)) {
    document.open();
    document.write(text);
    document.close();
    return;
  }
  target.innerHTML = text;
  target.dispatchEvent(new CustomEvent("console:updated", { bubbles: true }));
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("js-action")) return;
  const target = document.querySelector(form.dataset.target || "");
  if (!target) return;
  event.preventDefault();
  const body = new URLSearchParams(new FormData(form, event.submitter));
  for (const button of form.querySelectorAll("button")) button.disabled = true;
  inTurn(target, async () => {
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-Console-Fragment": "1" },
      });
      await swapFrom(response, target);
    } catch (error) {
      for (const button of form.querySelectorAll("button")) button.disabled = false;
      alert(`The request did not go through: ${error}`);
    }
  });
});

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a.js-refresh") : null;
  if (!link) return;
  const target = document.querySelector(link.dataset.target || "");
  if (!target) return;
  event.preventDefault();
  refresh(target, link.href, { keepNotice: false });
});

// Re-render `target` from `url`; a live update keeps the outcome of the last action on screen.
function refresh(target, url, { keepNotice = true } = {}) {
  return inTurn(target, async () => {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { "X-Console-Fragment": "1" },
    });
    const notice = keepNotice ? target.querySelector(".notice") : null;
    await swapFrom(response, target);
    if (notice && !target.querySelector(".notice")) target.querySelector("h1")?.after(notice);
  });
}

window.consoleRefresh = refresh;
