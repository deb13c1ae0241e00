// The signstream dashboard: plain script, no build step, talks only to this gateway's API.
"use strict";

const HAND = [[0,1],[1,2],[2,3],[3,4],[0,5],[5,6],[6,7],[7,8],[5,9],[9,10],[10,11],[11,12],[9,13],[13,14],
  [14,15],[15,16],[13,17],[17,18],[18,19],[19,20],[0,17]];
const POSE = [[11,12],[11,13],[13,15],[12,14],[14,16],[11,23],[12,24],[23,24],[0,11],[0,12]];
const tiles = new Map();  // camera id -> {root, canvas, bars, figures, prediction}
let stats = {};

async function getJSON(path, options) {
  const response = await fetch(path, options);
  if (response.status === 401) { location.reload(); throw new Error("token needed"); }
  if (!response.ok && response.status !== 503) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function tileFor(camera) {
  if (tiles.has(camera)) return tiles.get(camera);
  const empty = document.querySelector("#cameras .empty");
  if (empty) empty.remove();
  const canvas = el("canvas", {width: 640, height: 480});
  const state = el("span", {class: "state"});
  const bars = el("div", {class: "bars"});
  const figures = el("div", {class: "figures"});
  const root = el("div", {class: "tile", "data-camera": camera}, el("h3", {}, camera, state), canvas, bars, figures);
  document.getElementById("cameras").append(root);
  const tile = {root, canvas, state, bars, figures, prediction: null, busy: false};
  tiles.set(camera, tile);
  return tile;
}

function drawPoints(ctx, points, links, color, w, h) {
  if (!points || !points.length) return;
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2;
  for (const [a, b] of links) {
    if (!points[a] || !points[b]) continue;
    ctx.beginPath(); ctx.moveTo(points[a][0] * w, points[a][1] * h); ctx.lineTo(points[b][0] * w, points[b][1] * h);
    ctx.stroke();
  }
  for (const p of points.filter(Boolean)) { ctx.beginPath(); ctx.arc(p[0] * w, p[1] * h, 2.5, 0, 2 * Math.PI); ctx.fill(); }
}

async function refreshFrame(camera) {
  const tile = tileFor(camera);
  if (tile.busy) return;
  tile.busy = true;
  try {
    const q = encodeURIComponent(camera);
    const response = await fetch(`/api/cameras/${q}/frame.jpg`, {cache: "no-store"});
    if (!response.ok) return;
    const image = await createImageBitmap(await response.blob());
    const points = await fetch(`/api/cameras/${q}/keypoints`).then(r => r.ok ? r.json() : null).catch(() => null);
    const ctx = tile.canvas.getContext("2d");
    tile.canvas.width = image.width; tile.canvas.height = image.height;
    ctx.drawImage(image, 0, 0);
    if (points) {
      const pose = (points.pose || []).map(p => p[3] > 0.5 ? p : null);
      drawPoints(ctx, pose, POSE, "#ffd54f", image.width, image.height);
      drawPoints(ctx, points.left_hand, HAND, "#4fc3f7", image.width, image.height);
      drawPoints(ctx, points.right_hand, HAND, "#81c784", image.width, image.height);
    }
    tile.root.dataset.frames = String(Number(tile.root.dataset.frames || 0) + 1);
  } finally {
    tile.busy = false;
  }
}

function showPrediction(p) {
  const tile = tileFor(p.camera);
  tile.bars.replaceChildren(...Object.entries(p.probs).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([label, v]) =>
    // `unknown` is the model saying no trained sign is made: shown, but not as a sign.
    el("div", {class: label === "unknown" ? "bar none" : "bar"}, el("span", {}, label === "unknown" ? "no sign" : label),
       el("span", {class: "fill", style: `width:${Math.round(v * 150)}px`}),
       el("span", {}, `${Math.round(v * 100)}%`))));
  tile.prediction = p;
}

function showDetection(d) {
  const list = document.getElementById("detections");
  const when = new Date(d.ts_end).toLocaleTimeString();
  list.prepend(el("li", {"data-id": d.id}, el("time", {}, when),
    el("strong", {}, d.label), ` on ${d.camera} (${Math.round(d.confidence * 100)}%, model ${d.model})`));
  while (list.children.length > 200) list.lastChild.remove();
}

function listen(stream, handler, lastId) {
  // EventSource reconnects by itself, sending Last-Event-ID: the gateway replays what it missed.
  const source = new EventSource(`/api/events/${stream}` + (lastId ? `?last_id=${encodeURIComponent(lastId)}` : ""));
  const connection = document.getElementById("connection");
  source.addEventListener(stream.slice(0, -1), e => handler(JSON.parse(e.data)));
  let last = lastId;
  source.addEventListener(stream.slice(0, -1), e => { last = e.lastEventId; });
  source.addEventListener("overflow", () => { source.close(); setTimeout(() => listen(stream, handler, last), 500); });
  source.onopen = () => { connection.textContent = "live"; connection.className = "pill ok"; };
  source.onerror = () => { connection.textContent = "reconnecting…"; connection.className = "pill down"; };
}

function sum(entries, key) { return entries.reduce((n, e) => n + (e[key] || 0), 0); }

async function refreshStatus() {
  const [cameras, health] = await Promise.all([getJSON("/api/cameras"), getJSON("/api/health")]);
  stats = await getJSON("/api/stats");
  const pill = document.getElementById("health");
  const down = health.items.filter(i => !i.up);
  pill.textContent = health.ok ? "all up" : `${down.length} down`;
  pill.className = "pill " + (health.ok ? "ok" : "down");
  pill.title = down.map(i => `${i.kind} ${i.name}: ${i.state}`).join("\n");
  for (const camera of cameras) {
    const tile = tileFor(camera.id);
    tile.state.textContent = camera.state; tile.state.className = "state " + (camera.up ? "" : "down");
    const per = service => Object.values(stats[service] || {}).map(s => (s.cameras || {})[camera.id] || {});
    const kp = per("keypoints"), cl = per("classifier");
    const latency = tile.prediction ? `, latency ${Math.round(tile.prediction.latency_ms)} ms` : "";
    tile.figures.textContent = `${camera.frames_sent ?? 0} frames sent at ${camera.fps} fps · keypoints in ` +
      `${sum(kp, "in")} out ${sum(kp, "out")} dropped ${sum(kp, "dropped_old") + sum(kp, "dropped_behind")} · ` +
      `${sum(cl, "predictions")} predictions${latency}` + (tile.prediction ? ` · model ${tile.prediction.model}` : "");
  }
  const rows = health.items.filter(i => i.kind !== "camera").map(i => {
    const snap = (stats[i.kind] || {})[i.name] || {cameras: {}};
    const cams = Object.values(snap.cameras || {});
    const p95 = Math.max(0, ...cams.map(c => c.p95_ms || 0));
    return el("tr", {class: i.up ? "" : "down"}, ...[i.kind, i.name || "—", i.state, sum(cams, "in"),
      sum(cams, "out") || sum(cams, "predictions"), sum(cams, "dropped_old") + sum(cams, "dropped_behind"),
      sum(cams, "dead"), p95 ? p95.toFixed(1) : "", (snap.info || {}).model || ""].map(v => el("td", {}, String(v))));
  });
  document.querySelector("#workers tbody").replaceChildren(...rows);
}

async function refreshModels() {
  const view = await getJSON("/api/models");
  const serving = Object.entries(view.serving).map(([w, s]) => `${w} serves ${s.model ?? "nothing yet"}`);
  document.getElementById("serving").textContent = serving.join("; ") || "No classifier has reported yet.";
  document.getElementById("models").replaceChildren(...view.versions.map(v => {
    const m = v.metrics || {}, labels = v.labels || [];
    const table = el("table", {class: "confusion"}, el("tr", {}, el("th", {}, "true \\ predicted"),
      ...labels.map(l => el("th", {}, l))),
      ...(m.confusion || []).map((row, i) => el("tr", {}, el("th", {}, labels[i] ?? ""),
        ...row.map(n => el("td", {}, String(n))))));
    const accuracy = typeof m.accuracy === "number" ? `accuracy ${(m.accuracy * 100).toFixed(1)}%` : "";
    return el("details", {}, el("summary", {}, `${v.version}: ${labels.join(", ")} ${accuracy}`), table);
  }));
}

async function train() {
  const status = document.getElementById("train-status");
  const response = await fetch("/api/train", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: "{}"});
  const body = await response.json();
  if (!response.ok) { status.textContent = body.detail; return; }
  status.textContent = `asked (request ${body.request_id}); training takes minutes…`;
  const poll = setInterval(async () => {
    const result = await fetch(`/api/train/${body.request_id}`);
    if (!result.ok) return;
    const r = await result.json();
    if (r.status === "training") {
      const p = r.progress;
      status.textContent = `training: epoch ${p.epoch} of at most ${p.epochs}` +
        (p.epoch ? `, validation accuracy ${(100 * p.val_accuracy).toFixed(1)}%` : "");
      return;
    }
    clearInterval(poll);
    status.textContent = `${r.status}: ${r.version || ""} ${r.promoted ? "promoted" : r.reason}`;
    refreshModels();
  }, 3000);
}

function every(ms, task) { const run = () => task().catch(e => console.warn(e.message)); run(); setInterval(run, ms); }

document.getElementById("train").addEventListener("click", () => train().catch(e => console.warn(e.message)));
listen("predictions", showPrediction);
every(2000, refreshStatus);
every(10000, refreshModels);
every(250, async () => { await Promise.all([...tiles.keys()].map(refreshFrame)); });
// The recent log first, then live from the newest of it: nothing shown twice, nothing missed between.
getJSON("/api/detections?count=50").then(list => {
  list.reverse().forEach(showDetection);
  listen("detections", showDetection, list.length ? list[list.length - 1].id : undefined);
}).catch(e => { console.warn(e.message); listen("detections", showDetection); });
