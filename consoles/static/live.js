// Live updates over graphql-transport-ws, through the consoles' own socket (the session cookie
// says who is listening). An element with `data-live-socket` and `data-live-query` subscribes;
// with `data-refresh-url` each matching message re-renders it from the server, with
// `data-live-gifts` each message's gifts are added at its top, with `data-live-leaderboard` its
// rows are replaced by each message's leaderboard.
"use strict";

function valueAt(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
}

function matches(element, data) {
  const rule = element.dataset.liveMatch;
  if (!rule) return true;
  const split = rule.indexOf("="); // the first one: ids may end in base64's padding
  return String(valueAt(data, rule.slice(0, split))) === rule.slice(split + 1);
}

function row(texts, numeric) {
  const tr = document.createElement("tr");
  texts.forEach((text, index) => {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (numeric.includes(index)) cell.className = "num";
    tr.appendChild(cell);
  });
  return tr;
}

function showLeaderboard(element, data) {
  const entries = data.leaderboardChanged.entries;
  const rows = entries.map((entry) =>
    row([String(entry.rank), entry.user.displayName, Number(entry.total).toLocaleString("en-US")], [0, 2]),
  );
  if (!rows.length) {
    rows.push(row(["No gifts yet…"], []));
    rows[0].cells[0].colSpan = 3;
  }
  element.replaceChildren(...rows);
}

function addGifts(element, data) {
  const update = data.giftReceived;
  const total = document.getElementById("stream-total");
  if (total) total.textContent = Number(update.streamTotal).toLocaleString("en-US");
  element.querySelector("tr.empty")?.remove();
  for (const gift of update.gifts) {
    const texts = [
      gift.committedAt.replace("T", " ").slice(0, 19),
      gift.senderName,
      gift.gift.name,
      String(gift.quantity),
      Number(gift.diamonds).toLocaleString("en-US"),
    ];
    element.prepend(row(texts, [3, 4]));
  }
}

function subscribe(element) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${element.dataset.liveSocket}`, "graphql-transport-ws");
  const variables = element.dataset.liveVariables ? JSON.parse(element.dataset.liveVariables) : {};
  socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: {} })));
  socket.addEventListener("message", async (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: element.dataset.liveQuery, variables } }));
      document.body.dataset.live = "connected";
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      const data = message.payload.data;
      if (!matches(element, data)) return;
      if (element.dataset.refreshUrl) await window.consoleRefresh(element, element.dataset.refreshUrl);
      if ("liveGifts" in element.dataset) addGifts(element, data);
      if ("liveLeaderboard" in element.dataset) showLeaderboard(element, data);
    }
  });
  socket.addEventListener("close", () => {
    document.body.dataset.live = "disconnected";
    setTimeout(() => subscribe(element), 2000);
  });
}

for (const element of document.querySelectorAll("[data-live-socket]")) subscribe(element);
