// The dashboard page: polls api/plans and draws each plan; the controls POST to api/plans/<name>/<action>
// after a confirmation. Plain script, no dependencies, no build step.
"use strict";

const POLL_MS = 2000;
const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781"];
const COMMANDS = { promote: "kubectl conductor promote", pause: "kubectl conductor pause",
  resume: "kubectl conductor resume", abort: "kubectl conductor abort", rollback: "kubectl conductor rollback" };
let latest = null;
let pending = null;

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;" }[c]));
}

function ms(text) { const t = Date.parse(text); return Number.isNaN(t) ? null : t; }

function duration(seconds) {
  seconds = Math.round(Math.abs(seconds));
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
  if (d) return `${d}d${h ? h + "h" : ""}`;
  if (h) return `${h}h${m ? m + "m" : ""}`;
  if (m) return `${m}m`;
  return `${seconds % 60}s`;
}

function when(text, now) {
  const t = ms(text);
  if (t === null) return esc(text || "-");
  const delta = (t - now) / 1000;
  return `<span title="${esc(text)}">${delta > 0 ? "in " + duration(delta) : duration(delta) + " ago"}</span>`;
}

function clock(t) { return new Date(t).toISOString().slice(11, 19); }

// ---- charts --------------------------------------------------------------------------------------

// series: [{label, color, points: [[t, value]], dashed}]; markers: [{t, label, color}]
function chart(series, markers, { width = 560, height = 190 } = {}) {
  const left = 36, right = 12, top = 14, bottom = 24;
  const all = series.flatMap((s) => s.points);
  if (!all.length) return `<p class="muted">No readings yet: the operator adds one each drainDetection interval.</p>`;
  const times = [...all.map((p) => p[0]), ...markers.map((m) => m.t)];
  let x0 = Math.min(...times), x1 = Math.max(...times);
  if (x1 === x0) { x0 -= 30000; x1 += 30000; }
  const yMax = Math.max(1, ...all.map((p) => p[1]));
  const x = (t) => left + (t - x0) / (x1 - x0) * (width - left - right);
  const y = (v) => top + (1 - v / yMax) * (height - top - bottom);
  const parts = [`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img">`];
  for (const v of [0, Math.round(yMax / 2), yMax]) {
    parts.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<text x="${left}" y="${height - 6}">${clock(x0)}</text>`,
    `<text x="${width - right}" y="${height - 6}" text-anchor="end">${clock(x1)}</text>`);
  for (const m of markers) {
    parts.push(`<line class="marker" x1="${x(m.t)}" x2="${x(m.t)}" y1="${top}" y2="${height - bottom}" ` +
      `stroke="${m.color}"/>`, `<text x="${x(m.t) - 4}" y="${top + 10}" text-anchor="end">${esc(m.label)}</text>`);
  }
  for (const s of series) {
    if (!s.points.length) continue;
    const path = s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"` +
      `${s.dashed ? ' stroke-dasharray="6 4"' : ""}><title>${esc(s.label)}</title></path>`);
    const [t, v] = s.points[s.points.length - 1];
    parts.push(`<circle cx="${x(t)}" cy="${y(v)}" r="3" fill="${s.color}"/>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

function legend(series) {
  return `<div class="legend">${series.map((s) => `<span style="--c:${s.color}">${esc(s.label)}</span>`).join("")}</div>`;
}

// The history's points, and the status's latest reading when it is newer.
function readings(plan) {
  const points = (plan.history || []).map((p) => [ms(p.at), p.running || {}]).filter((p) => p[0] !== null);
  const versions = plan.status.versions || [];
  const readAt = ms((plan.status.running || {}).readAt || (versions[0] || {}).readAt);
  if (versions.length && readAt !== null && (!points.length || readAt > points[points.length - 1][0])) {
    points.push([readAt, Object.fromEntries(versions.map((v) => [String(v.version), v.running]))]);
  }
  return points;
}

// The versions migrated from; before the verdict names them, every version but the target.
function oldVersions(plan) {
  const verdict = plan.status.verdict || {};
  if ((verdict.fromVersions || []).length) return new Set(verdict.fromVersions.map(String));
  const seen = [...(plan.history || []).flatMap((p) => Object.keys(p.running || {})),
    ...(plan.status.versions || []).map((v) => String(v.version))];
  return new Set(seen.filter((v) => v !== String(verdict.toVersion ?? "")));
}

function versionChart(plan) {
  const points = readings(plan);
  const target = String((plan.status.verdict || {}).toVersion ?? "");
  const counted = (plan.status.versions || []).map((v) => String(v.version));  // a version at 0 is not in a point
  const versions = [...new Set([...counted, ...points.flatMap((p) => Object.keys(p[1]))])].sort((a, b) => a - b);
  const series = versions.map((v, i) => ({ label: `v${v}${v === target ? " (target)" : ""}`,
    color: COLORS[i % COLORS.length], points: points.map((p) => [p[0], p[1][v] || 0]) }));
  return chart(series, []) + legend(series);
}

function drainChart(plan, now) {
  const points = readings(plan);
  const old = oldVersions(plan);
  const drain = plan.status.drain || {};
  const remaining = points.map((p) => [p[0], Object.entries(p[1]).reduce((n, [v, c]) => n + (old.has(v) ? c : 0), 0)]);
  const series = [{ label: "old versions running", color: COLORS[1], points: remaining }];
  const markers = [];
  const estimate = ms(drain.estimatedEnd);
  const last = remaining[remaining.length - 1];
  if (estimate !== null && !drain.drainedAt && last && estimate > last[0] && last[1] > 0) {
    series.push({ label: "estimate", color: COLORS[1], dashed: true, points: [last, [estimate, 0]] });
    markers.push({ t: estimate, label: "estimated end", color: COLORS[3] });
  }
  const deadline = ms(drain.deadline);
  const span = remaining.length ? Math.max(now, estimate || 0) - remaining[0][0] : 0;
  if (deadline !== null && remaining.length && deadline - now < 3 * span) {
    markers.push({ t: deadline, label: "deadline", color: COLORS[1] });
  }
  const facts = [
    drain.since && `<dt>since</dt><dd>${when(drain.since, now)}</dd>`,
    drain.deadline && `<dt>deadline</dt><dd>${when(drain.deadline, now)}</dd>`,
    `<dt>old running</dt><dd data-field="old">${esc((plan.status.running || {}).old ?? "?")}</dd>`,
    drain.estimatedEnd && !drain.drainedAt && `<dt>estimated end</dt><dd data-field="estimatedEnd">` +
      `${when(drain.estimatedEnd, now)}</dd>`,
    drain.drainedAt && `<dt>drained</dt><dd>${when(drain.drainedAt, now)}</dd>`,
    `<dt>zero readings</dt><dd>${esc(drain.zeroReadings ?? 0)}</dd>`,
  ].filter(Boolean).join("");
  return chart(series, markers) + legend(series.filter((s) => !s.dashed)) + `<dl>${facts}</dl>`;
}

// ---- sections ------------------------------------------------------------------------------------

function gateRows(gates) {
  return gates.map((g) => {
    const state = g.passed ? ["passed", "passed"] : g.reason === "GateRunning" ? ["waiting", "not yet"]
      : ["failed", "FAILED"];
    return `<tr><td class="${state[0]}">${state[1]}</td><td>${esc(g.name)}</td><td>${esc(g.reason || "-")}</td>` +
      `<td>${esc(g.message)}</td></tr>`;
  }).join("");
}

function versionsTable(plan) {
  const status = plan.status, old = oldVersions(plan), target = (status.verdict || {}).toVersion;
  const rows = (status.versions || []).map((v) => `<tr data-version="${esc(v.version)}"><td>v${esc(v.version)}</td>` +
    `<td class="running" data-version="${esc(v.version)}">${esc(v.running)}</td>` +
    `<td>${v.version === target ? "target" : old.has(String(v.version)) ? "old" : ""}</td></tr>`).join("");
  const running = status.running;
  const summary = running ? `<p>old versions <b data-field="running-old">${esc(running.old)}</b>, target ` +
    `<b data-field="running-target">${esc(running.target)}</b></p>` : "";
  return `${summary}<table class="versions"><tr><th>version</th><th>running</th><th></th></tr>` +
    `${rows || '<tr><td colspan="3" class="muted">not counted yet</td></tr>'}</table>`;
}

function wavesBox(plan, now) {
  const w = plan.status.waves;
  if (!w) return "";
  const total = w.total || 0, moved = w.moved || 0, share = total ? Math.min(100, 100 * moved / total) : 0;
  const label = w.current === 0 ? "the canary" : `wave ${w.current} of ${Math.max(0, (w.count || 0) - 1)}`;
  return `<section class="box waves"><h3>Waves</h3>
    <p>${esc(label)}, <b data-field="wave-state">${esc(w.state || "-")}</b>
      ${w.until ? `until ${when(w.until, now)}` : ""}</p>
    <div class="bar"><div style="width:${share}%"></div></div>
    <p>moved <b data-field="moved">${esc(moved)}</b> of ${esc(total)}; ineligible ${esc(w.ineligible || 0)}, failed
      ${esc(w.failed || 0)}, rolled back ${esc(w.rolledBack || 0)}</p>
    ${w.message ? `<p class="muted">${esc(w.message)}</p>` : ""}
    ${(w.gates || []).length ? `<table>${gateRows(w.gates)}</table>` : ""}</section>`;
}

function planSection(plan, now) {
  const s = plan.status;
  const phase = s.phase || (s.observedGeneration === -1 || !Object.keys(s).length ? "not reconciled" : "-");
  const verdict = s.verdict && s.verdict.level ? `<span class="muted">verdict ${esc(s.verdict.level)}: ` +
    `v${esc((s.verdict.fromVersions || []).join(", v"))} &rarr; v${esc(s.verdict.toVersion)}</span>` : "";
  const conditions = (s.conditions || []).map((c) => `<tr><td>${esc(c.type)}</td><td>${esc(c.status)}</td>` +
    `<td>${esc(c.reason || "-")}</td><td>${esc(c.message)}</td></tr>`).join("");
  const handled = s.handledRequests || {};
  const requests = Object.keys(handled).map((k) => `<tr><td>${esc(k)}</td><td>${esc(handled[k].token)}</td>` +
    `<td>${esc(handled[k].result || "-")}</td></tr>`).join("");
  const buttons = ["promote", plan.paused ? "resume" : "pause", "abort", "rollback"].map((a) =>
    `<button data-action="${a}" data-plan="${esc(plan.name)}"${a === "abort" || a === "rollback" ? ' class="danger"'
      : ""}>${a}</button>`).join("");
  return `<article class="plan" data-plan="${esc(plan.name)}">
    <div class="plan-head"><h2>${esc(plan.name)}</h2>
      <span class="phase ${esc(phase)}" data-field="phase">${esc(phase)}</span>
      ${plan.paused ? '<span class="badge" data-field="paused">paused</span>' : ""}
      <span class="muted">workflow ${esc(plan.workflow)}, ${esc(plan.strategy || "no strategy")}</span>
      ${verdict}</div>
    ${s.message ? `<p class="message" data-field="message">${esc(s.message)}</p>` : ""}
    <div class="grid">
      <section class="box"><h3>Running executions per version</h3>${versionsTable(plan)}${versionChart(plan)}</section>
      <section class="box"><h3>Drain</h3>${drainChart(plan, now)}</section>
      ${(s.gates || []).length ? `<section class="box gates"><h3>Gates</h3><table>${gateRows(s.gates)}</table></section>`
        : ""}
      ${wavesBox(plan, now)}
      <section class="box"><h3>Conditions</h3><table class="conditions">${conditions ||
        '<tr><td class="muted">none yet</td></tr>'}</table>
        ${requests ? `<h3>Requests handled</h3><table>${requests}</table>` : ""}</section>
    </div>
    <div class="controls">${buttons}</div></article>`;
}

// ---- polling and controls ------------------------------------------------------------------------

function show(id, text) {
  const element = document.getElementById(id);
  element.textContent = text || "";
  element.hidden = !text;
}

function render(data) {
  const now = ms(data.now) || Date.now();
  document.getElementById("scope").textContent = data.plan ? `MigrationPlan ${data.namespace}/${data.plan}`
    : `MigrationPlans of ${data.namespace}`;
  document.getElementById("updated").textContent = `updated ${clock(now)} UTC`;
  const main = document.getElementById("plans");
  main.innerHTML = data.plans.length ? data.plans.map((p) => planSection(p, now)).join("")
    : `<p class="muted">No MigrationPlans in ${esc(data.namespace)}.</p>`;
  document.body.dataset.loaded = "true";
}

async function poll() {
  try {
    const response = await fetch("api/plans", { cache: "no-store" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    latest = data;
    show("error", "");
    render(data);
  } catch (error) {
    show("error", `Cannot read the plans: ${error.message}`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function ask(plan, action) {
  const view = (latest && latest.plans.find((p) => p.name === plan)) || {};
  pending = { plan, action };
  document.getElementById("confirm-title").textContent = `${action} MigrationPlan ${plan}?`;
  document.getElementById("confirm-text").textContent = `${action[0].toUpperCase()}${action.slice(1)}: ` +
    `${(view.confirmations || {})[action] || ""}.`;
  document.getElementById("confirm-command").textContent = `${COMMANDS[action]} ${plan}`;
  document.getElementById("confirm").showModal();
}

async function send(plan, action) {
  try {
    const response = await fetch(`api/plans/${encodeURIComponent(plan)}/${action}`, { method: "POST",
      headers: { "Content-Type": "application/json", "X-Conductor-Dashboard": "1" }, body: "{}" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    show("notice", data.message);
    show("error", "");
  } catch (error) {
    show("error", `${action} failed: ${error.message}`);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("plans").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) ask(button.dataset.plan, button.dataset.action);
  });
  document.getElementById("confirm").addEventListener("close", () => {
    const dialog = document.getElementById("confirm");
    if (dialog.returnValue === "yes" && pending) send(pending.plan, pending.action);
    pending = null;
  });
  poll();
});
