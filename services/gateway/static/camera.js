"use strict";
// The browser as a camera. MediaPipe Holistic runs in this page; each processed frame becomes the
// 1662-float vector the keypoint workers make (the recipe's order: pose 33 x (x, y, z, visibility),
// face 468, left hand 21, right hand 21 x (x, y, z); zeros for a part not found) and goes with its
// capture time, as one binary message, to the gateway's socket /api/cameras/<camera>/keypoints.
// The camera's predictions and detections come back on the same socket. No picture leaves the device.
//
// URL parameters: camera=<name> starts at once with that name. time_scale=<k> says the camera plays
// k times slower than life (a slowed-down recording used as a camera, e.g. to test on a machine
// whose Holistic is slow): capture times are then the recording's own.

const POSE = 33, FACE = 468, HAND = 21;
const SIZE = POSE * 4 + FACE * 3 + 2 * HAND * 3;  // 1662
// The classifier needs 5 real frames in a 2 s window (bench/results/frame_rate.md).
const MIN_FPS = 2.5;
const MAX_BUFFERED = 256 * 1024;  // bytes waiting in the socket: beyond this a frame is skipped, not queued
const FINAL_CLOSES = {1008: true, 1009: true, 4400: true, 4401: true};  // refusals a reconnect would repeat

const params = new URLSearchParams(location.search);
const timeScale = Math.max(1, Number(params.get("time_scale")) || 1);
const $ = (id) => document.getElementById(id);
const video = $("video"), overlay = $("overlay"), ctx = overlay.getContext("2d");

const state = {
  running: false, socket: null, camera: null, holistic: null, loading: null, generation: 0, results: null,
  presented: 0, frameTime: 0, lastFrame: 0, waiter: null, processed: 0, sent: 0, skipped: 0, started: 0, retryMs: 1000, times: [],
};
// What a test or a person can read off the page.
const counters = document.body.dataset;

function say(text, kind) {
  $("state").textContent = text;
  $("state").className = "pill" + (kind ? " " + kind : "");
}

// A frame's capture time in Unix ms, as the camera stamped it where the browser says (the frame
// being processed may have waited), slowed down `timeScale` times from the first frame on.
function captureTime() {
  const at = state.frameTime || Date.now();
  if (!state.started) state.started = at;
  return Math.round(state.started + (at - state.started) / timeScale);
}

function points(landmarks, count, withVisibility, out) {
  const width = withVisibility ? 4 : 3;
  if (!landmarks || landmarks.length !== count) {
    for (let i = 0; i < count * width; i++) out.push(0);
    return false;
  }
  for (const p of landmarks) {
    out.push(p.x, p.y, p.z);
    if (withVisibility) out.push(p.visibility || 0);
  }
  return true;
}

function keypointVector(results) {
  const vector = [], parts = [];
  if (points(results.poseLandmarks, POSE, true, vector)) parts.push("pose");
  if (points(results.faceLandmarks, FACE, false, vector)) parts.push("face");
  if (points(results.leftHandLandmarks, HAND, false, vector)) parts.push("left_hand");
  if (points(results.rightHandLandmarks, HAND, false, vector)) parts.push("right_hand");
  if (vector.length !== SIZE) throw new Error(`keypoint vector of ${vector.length} numbers, expected ${SIZE}`);
  return {vector, parts};
}

// As the keypoint workers (services/keypoints/extract.py): the full pose model, landmark smoothing
// on, 468 face points, confidences 0.5. bench/bench_browser_parity.py builds its trackers here too.
const HOLISTIC_OPTIONS = {modelComplexity: 1, smoothLandmarks: true, refineFaceLandmarks: false,
                          enableSegmentation: false, minDetectionConfidence: 0.5, minTrackingConfidence: 0.5};

function blankImage() {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  return canvas;
}

function newHolistic(onResults) {
  const holistic = new Holistic({locateFile: (file) => `/holistic/${file}`});
  holistic.setOptions(HOLISTIC_OPTIONS);
  holistic.onResults(onResults);
  return holistic;
}

async function loadHolistic() {
  say("loading MediaPipe Holistic…");
  const holistic = newHolistic((results) => { state.results = results; });
  await holistic.initialize();
  // Its first frame takes seconds (programs compiled for the GPU): spent on a blank image before the
  // camera starts, not on the camera's first seconds (a recording played as a camera would lose them).
  await holistic.send({image: blankImage()});
  return holistic;
}

// What the gateway reads fastest (services/gateway/browser_camera.py): float64 capture time,
// uint32 seq, uint32 parts found as bits, then the vector as float32, all little-endian.
const PART_BITS = {pose: 1, face: 2, left_hand: 4, right_hand: 8};

function binaryMessage({vector, parts}, captureTs, seq) {
  const buffer = new ArrayBuffer(16 + SIZE * 4);
  const view = new DataView(buffer);
  view.setFloat64(0, captureTs, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, parts.reduce((bits, part) => bits | PART_BITS[part], 0), true);
  for (let i = 0; i < SIZE; i++) view.setFloat32(16 + 4 * i, vector[i], true);
  return buffer;
}

function draw(results) {
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const w = overlay.width, h = overlay.height;
  const lines = (landmarks, connections, color) => {
    if (!landmarks) return;
    ctx.strokeStyle = color; ctx.lineWidth = Math.max(2, w / 320);
    for (const [a, b] of connections) {
      if (!landmarks[a] || !landmarks[b]) continue;
      ctx.beginPath(); ctx.moveTo(landmarks[a].x * w, landmarks[a].y * h); ctx.lineTo(landmarks[b].x * w, landmarks[b].y * h); ctx.stroke();
    }
  };
  const upperBody = (window.POSE_CONNECTIONS || []).filter(([a, b]) => a <= 24 && b <= 24);
  lines(results.poseLandmarks, upperBody, "#9cc3ff");
  lines(results.leftHandLandmarks, window.HAND_CONNECTIONS || [], "#ffb74d");
  lines(results.rightHandLandmarks, window.HAND_CONNECTIONS || [], "#7ee081");
}

function showRate() {
  const now = performance.now();
  state.times.push(now);
  while (state.times.length && state.times[0] < now - 5000) state.times.shift();
  const fps = state.times.length / Math.min(5, (now - state.times[0]) / 1000 || 1) * timeScale;
  const slow = state.times.length >= 5 && fps < MIN_FPS;
  $("rate").textContent = `${fps.toFixed(1)} keypoint frames a second` + (timeScale > 1 ? ` (camera ${timeScale}x slowed)` : "")
    + (slow ? `: too few, signs need ${MIN_FPS}; close other tabs or use a faster device` : "");
  $("rate").className = "figures" + (slow ? " warning" : "");
}

function send(results, captureTs) {
  const socket = state.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  if (socket.bufferedAmount > MAX_BUFFERED) {  // the network is slower than the camera: drop, never lag
    counters.skipped = ++state.skipped;
    return;
  }
  socket.send(binaryMessage(keypointVector(results), captureTs, state.processed));
  counters.sent = ++state.sent;
}

function showPrediction(event) {
  $("sign").textContent = event.label;
  $("sign").className = event.label === "unknown" ? "unknown" : "";
  $("confidence").textContent = `${Math.round(event.confidence * 100)}%`;
}

function showDetection(event) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date(event.ts_end || Date.now()).toLocaleTimeString();
  item.append(time, event.label);
  item.dataset.label = event.label;
  $("detections").prepend(item);
  while ($("detections").children.length > 50) $("detections").lastChild.remove();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/cameras/${encodeURIComponent(state.camera)}/keypoints`);
  state.socket = socket;
  socket.onopen = () => { state.retryMs = 1000; say(`live: ${state.camera}`, "ok"); };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "prediction") showPrediction(event);
    else if (event.type === "detection") showDetection(event);
    else if (event.type === "refused") console.warn("the gateway refused a frame:", event.reason);
  };
  socket.onclose = (close) => {
    if (state.socket !== socket || !state.running) return;
    if (FINAL_CLOSES[close.code]) {
      say(close.reason || (close.code === 4401 ? "wrong or missing token: open the page from the dashboard" : `closed (${close.code})`), "down");
      stop();
      return;
    }
    say(`reconnecting (${close.reason || close.code})`, "down");
    setTimeout(() => { if (state.running && state.socket === socket) connect(); }, state.retryMs);
    state.retryMs = Math.min(10000, state.retryMs * 2);
  };
}

function nextFrame() {
  // A new camera frame, not a repaint: Holistic on the same frame twice would send it twice.
  return new Promise((resolve) => {
    if (!video.requestVideoFrameCallback) setTimeout(resolve, 30);
    else if (state.presented > state.lastFrame) resolve();
    else state.waiter = resolve;
  });
}

function countFrames() {
  if (!video.requestVideoFrameCallback) return;
  const count = (_, metadata) => {
    state.presented = metadata.presentedFrames;
    state.frameTime = performance.timeOrigin + (metadata.captureTime || metadata.presentationTime || performance.now());
    if (state.waiter && state.presented > state.lastFrame) { const resolve = state.waiter; state.waiter = null; resolve(); }
    if (state.running) video.requestVideoFrameCallback(count);
  };
  video.requestVideoFrameCallback(count);
}

async function run() {
  while (state.running) {
    await nextFrame();
    if (!state.running) break;
    state.lastFrame = state.presented;
    state.processed++;
    const captureTs = captureTime();
    await state.holistic.send({image: video});
    if (!state.results) continue;
    draw(state.results);
    send(state.results, captureTs);
    counters.processed = state.processed;
    showRate();
  }
}

async function start(camera) {
  state.camera = camera;
  state.running = true;
  // A new stream counts its frames and its clock from scratch: so does this run.
  Object.assign(state, {presented: 0, frameTime: 0, lastFrame: 0, started: 0, results: null, times: []});
  $("start").disabled = true; $("stop").disabled = false;
  history.replaceState(null, "", `?camera=${encodeURIComponent(camera)}` + (timeScale > 1 ? `&time_scale=${timeScale}` : ""));
  localStorage.setItem("signstream-camera", camera);
  if (!window.isSecureContext || !navigator.mediaDevices) {
    say("browsers give a camera only to https pages or localhost: the operator serves the gateway with --tls-cert and --tls-key", "down");
    stop();
    return;
  }
  if (!window.Holistic) {
    say("MediaPipe Holistic is not served here: the operator runs `signstream fetch-holistic`", "down");
    stop();
    return;
  }
  const generation = ++state.generation;  // a stop and a new start while Holistic loads supersede this one
  state.loading = state.loading || loadHolistic();
  try {
    state.holistic = await state.loading;
  } catch (e) {
    state.loading = null;
    say(`MediaPipe Holistic did not start: ${e.message}`, "down");
    stop();
    return;
  }
  if (generation !== state.generation || !state.running) return;
  state.results = null;
  say("starting the camera…");
  // 960 wide, as capture publishes frames for the keypoint workers: far signers keep their hands.
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 960}}, audio: false});
    await video.play();
  } catch (e) {
    say(`no camera: ${e.message}`, "down");
    stop();
    return;
  }
  connect();
  countFrames();
  run().catch((e) => { say(`stopped: ${e.message}`, "down"); console.error(e); stop(); });
}

function stop() {
  state.running = false;
  $("start").disabled = false; $("stop").disabled = true;
  if (state.waiter) { const resolve = state.waiter; state.waiter = null; resolve(); }
  if (state.socket) { const socket = state.socket; state.socket = null; socket.close(1000, "stopped"); }
  if (video.srcObject) { video.srcObject.getTracks().forEach((track) => track.stop()); video.srcObject = null; }
  if ($("state").className.indexOf("down") < 0) say("stopped");
}

$("setup").addEventListener("submit", (event) => { event.preventDefault(); if (!state.running) start($("camera").value); });
$("stop").addEventListener("click", stop);
$("camera").value = params.get("camera") || localStorage.getItem("signstream-camera") || `browser-${Math.random().toString(36).slice(2, 8)}`;
if (params.get("camera")) start(params.get("camera"));
