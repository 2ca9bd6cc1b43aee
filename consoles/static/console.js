// The consoles' forms without a reload: a form marked `js-action` is posted with fetch and the
// answer (the fragment it changed) replaces its `data-target`; a whole page (a 403, say) replaces
// the document. Without JavaScript the same forms post normally.
"use strict";

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

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("js-action")) return;
  const target = document.querySelector(form.dataset.target || "");
  if (!target) return;
  event.preventDefault();
  const body = new URLSearchParams(new FormData(form, event.submitter));
  for (const button of form.querySelectorAll("button")) button.disabled = true;
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

document.addEventListener("click", async (event) => {
  const link = event.target instanceof Element ? event.target.closest("a.js-refresh") : null;
  if (!link) return;
  const target = document.querySelector(link.dataset.target || "");
  if (!target) return;
  event.preventDefault();
  await refresh(target, link.href);
});

async function refresh(target, url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { "X-Console-Fragment": "1" },
  });
  await swapFrom(response, target);
}

window.consoleRefresh = refresh;
