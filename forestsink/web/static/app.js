// forestsink web pages: data from the JSON API, drawn with textContent only
// (never innerHTML), so nothing a delivery holds can run as script.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(url, options = {}) {
  const opts = { credentials: "same-origin", ...options };
  opts.headers = { ...(options.headers || {}) };
  if (opts.method && opts.method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
  const r = await fetch(url, opts);
  let body = {};
  try { body = await r.json(); } catch (e) { body = {}; }
  if (r.status === 401 && !url.endsWith("/api/login")) { location.href = "/login"; }
  return { status: r.status, ok: r.ok, body };
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function setStatus(text, bad) {
  const s = document.getElementById("status");
  if (s) { s.textContent = text; s.className = bad ? "error" : "ok"; }
}

// column headers: Chinese first, English alongside (unknown columns as named)
const LABELS = {
  adcode: "区县代码 adcode", name_zh: "区县 district", name_en: "English",
  n_polygons: "图斑数 polygons", area_mu: "面积（亩）area (mu)", key: "图斑键 key",
  change: "变化 change", project_type: "工程类别 project type",
  version_from: "原版本 version from", version_to: "新版本 version to",
  area_mu_from: "原面积（亩）area from (mu)", area_mu_to: "新面积（亩）area to (mu)",
  n_added: "新增 added", n_changed: "变更 changed", n_withdrawn: "撤销 withdrawn",
  districts: "涉及区县 districts",
};
const CHANGES = { added: "新增 added", changed: "变更 changed", withdrawn: "撤销 withdrawn" };

function cell(column, value) {
  if (value === null || value === undefined) return "";
  if (column.includes("area_mu") && typeof value === "number") return value.toFixed(2);
  if (column === "change") return CHANGES[value] || value;
  return value;
}

function fillTable(table, rows, columns) {
  const head = table.querySelector("thead"), body = table.querySelector("tbody");
  head.replaceChildren(); body.replaceChildren();
  if (!rows.length) { body.appendChild(el("tr")).appendChild(el("td", "（无）none")); return; }
  columns = columns || Object.keys(rows[0]);
  const tr = head.appendChild(el("tr"));
  columns.forEach((c) => tr.appendChild(el("th", LABELS[c] || c)));
  rows.forEach((row) => {
    const r = body.appendChild(el("tr"));
    columns.forEach((c) => r.appendChild(el("td", cell(c, row[c]))));
  });
  return body;
}

// ---- log in / out -----------------------------------------------------------
function initLogin() {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const r = await api("/api/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(data),
    });
    if (r.ok) { location.href = "/"; return; }
    document.getElementById("login-error").textContent =
      r.body.error || "登录失败 / login failed";
  });
}

function initLogout() {
  const b = document.getElementById("logout");
  if (!b) return;
  b.addEventListener("click", async () => {
    await api("/api/logout", { method: "POST" });
    location.href = "/login";
  });
}

// ---- upload -----------------------------------------------------------------
const COLOURS = { error: "#c0392b", warning: "#e6a700", fixed: "#2e7d32", ok: "#3b6fb6" };

const UPLOADABLE = /\.(zip|gpkg|geojson|json)$/i;

// every file of a dropped folder (and its sub-folders)
async function entryFiles(entry) {
  if (entry.isFile) return [await new Promise((ok, bad) => entry.file(ok, bad))];
  if (!entry.isDirectory) return [];
  const reader = entry.createReader(), found = [];
  for (;;) {
    const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
    if (!batch.length) break;
    for (const e of batch) found.push(...(await entryFiles(e)));
  }
  return found;
}

function initUpload() {
  let queue = [], map = null, layer = null;
  const drop = document.getElementById("drop"), input = document.getElementById("file");
  const bValidate = document.getElementById("btn-validate");
  const bLand = document.getElementById("btn-land");
  const list = document.getElementById("queue");
  const choose = (files) => {
    list.replaceChildren();
    queue = [];
    files.forEach((f) => {
      const li = list.appendChild(el("li"));
      li.appendChild(el("span", `${f.name} (${(f.size / 1048576).toFixed(2)} MB) `));
      if (!UPLOADABLE.test(f.name)) {
        li.appendChild(el("span", /\.(shp|shx|dbf|prj|cpg)$/i.test(f.name)
          ? "跳过：shapefile 请把各部分打成 zip / skipped: zip a shapefile's parts"
          : "跳过：不是 zip/GeoPackage/GeoJSON / skipped: not zip, gpkg, geojson", "error"));
        return;
      }
      const bar = li.appendChild(el("progress"));
      bar.max = 100; bar.value = 0;
      const note = li.appendChild(el("span", ""));
      queue.push({ file: f, bar, note, li });
    });
    bValidate.disabled = bLand.disabled = !queue.length;
    if (queue.length === 1) {
      const f = queue[0].file;
      setStatus(`已选择 selected: ${f.name} (${(f.size / 1048576).toFixed(2)} MB)`);
    } else {
      setStatus(queue.length ? `已选择 ${queue.length} 个文件 / ${queue.length} files selected` : "");
    }
  };
  input.addEventListener("change", () => {
    choose([...input.files]);
    input.value = "";  // the next choice replaces this one
  });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault(); drop.classList.remove("over");
  }));
  drop.addEventListener("drop", async (e) => {
    const entries = [...(e.dataTransfer.items || [])]
      .map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
    if (entries.length) {
      const files = [];
      for (const entry of entries) files.push(...(await entryFiles(entry)));
      choose(files);
    } else if (e.dataTransfer.files.length) {
      choose([...e.dataTransfer.files]);
    }
  });

  // one file: POST /api/deliveries with its own progress bar; resolves when answered
  function sendOne(item, land) {
    const q = new URLSearchParams();
    if (land) q.set("land", "1");
    if (document.getElementById("opt-fix").checked) q.set("fix", "1");
    if (document.getElementById("opt-skip").checked) q.set("skip_errors", "1");
    const fd = new FormData(); fd.append("file", item.file);
    const xhr = new XMLHttpRequest();
    item.bar.value = 0;
    item.note.textContent = " 上传中 uploading…"; item.note.className = "";
    return new Promise((done) => {
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) item.bar.value = (100 * e.loaded) / e.total;
      });
      xhr.upload.addEventListener("load", () => { item.note.textContent = " 校验中 checking…"; });
      xhr.addEventListener("load", () => {
        item.bar.value = 100;
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status === 401) { location.href = "/login"; return; }
        done({ status: xhr.status, body });
      });
      xhr.addEventListener("error", () => done({ status: 0, body: { error: "网络错误 / network error" } }));
      xhr.open("POST", "/api/deliveries?" + q.toString());
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.send(fd);
    });
  }

  // every queued file, one after another; the report of the first with a
  // problem (or the last) is shown, each row's button shows its own
  async function send(land) {
    bValidate.disabled = bLand.disabled = true;
    setStatus("上传中… uploading…");
    let shown = null;
    for (const item of queue) {
      const answer = await sendOne(item, land);
      const r = answer.body.report;
      const bad = answer.status >= 400 || (r && r.n_errors > 0);
      item.note.textContent = " " + (r
        ? `错误 errors ${r.n_errors}，警告 warnings ${r.n_warnings}` +
          (answer.body.landed ? "，已入库 landed" : "")
        : (answer.body.error || `错误 error ${answer.status}`));
      item.note.className = bad ? "error" : "ok";
      if (queue.length > 1) {
        item.li.querySelectorAll("button").forEach((b) => b.remove());
        const b = item.li.appendChild(el("button", "显示 show"));
        b.type = "button";
        b.addEventListener("click", () => show(answer.status, answer.body, land));
      }
      if (!shown || (bad && !shown.bad)) shown = { ...answer, bad };
    }
    if (shown) show(shown.status, shown.body, land);
    bValidate.disabled = bLand.disabled = !queue.length;
  }
  bValidate.addEventListener("click", () => send(false));
  bLand.addEventListener("click", () => send(true));

  function show(status, body, land) {
    const report = body.report;
    const landed = document.getElementById("landed");
    landed.replaceChildren();
    if (!report) { setStatus(body.error || `错误 error ${status}`, true); return; }
    document.getElementById("result").hidden = false;
    document.getElementById("counts").textContent =
      `错误 errors: ${report.n_errors}，警告 warnings: ${report.n_warnings}，` +
      `已修复 fixed: ${report.n_fixed}`;
    if (status >= 400) setStatus(body.error, true);
    else if (land) setStatus("已入库 / landed: 批次 batch " + (body.batches || []).join(", "));
    else setStatus(report.n_errors ? "有错误，请修正 / errors: fix them" : "校验通过 / no errors");
    if (body.outcomes) fillTable(landed.appendChild(el("table", null, "data")).appendChild(el("thead")).parentNode.appendChild(el("tbody")).parentNode, body.outcomes);
    drawIssues(report);
  }

  function drawIssues(report) {
    const tbody = document.querySelector("#issues tbody");
    tbody.replaceChildren();
    const rowsByFeature = {};
    report.issues.forEach((i) => {
      const tr = tbody.appendChild(el("tr", null, i.severity));
      tr.dataset.feature = `${i.file}#${i.row}`;
      [i.severity, i.code, i.file, i.row, i.project_id, i.field, i.message, i.action]
        .forEach((v) => tr.appendChild(el("td", v === null ? "" : v)));
      (rowsByFeature[tr.dataset.feature] ||= []).push(tr);
    });
    if (!window.L) return;
    if (!map) {
      map = L.map("map", { preferCanvas: false });
      fetch("/assets/districts.geojson").then((r) => r.json()).then((g) => {
        L.geoJSON(g, { style: { color: "#777", weight: 1, fill: false } }).addTo(map);
      });
    }
    if (layer) layer.remove();
    layer = L.geoJSON(report.features, {
      style: (f) => ({
        color: COLOURS[f.properties.severity] || "#3b6fb6",
        weight: f.properties.severity === "ok" ? 1 : 3,
        fillOpacity: f.properties.severity === "ok" ? 0.1 : 0.4,
      }),
      onEachFeature: (f, lyr) => {
        const p = f.properties, box = el("div");
        box.appendChild(el("strong", `${p.file} 第${p.row}行/row ${p.row} [${p.project_id || ""}]`));
        p.issues.forEach((m) => box.appendChild(el("div", m)));
        lyr.bindPopup(box);
        lyr.on("click", () => {
          document.querySelectorAll("#issues tr.selected").forEach((t) => t.classList.remove("selected"));
          (rowsByFeature[`${p.file}#${p.row}`] || []).forEach((t) => t.classList.add("selected"));
        });
      },
    }).addTo(map);
    const bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 15 });
    else map.setView([30.0, 107.5], 7);
  }
}

// ---- batches ----------------------------------------------------------------
async function initBatches() {
  // newest first, PAGE at a time; "older" asks for the next page
  const PAGE = 100, table = document.getElementById("batches");
  const cols = ["batch_id", "kind", "created_at", "user", "source_name", "districts",
    "n_added", "n_changed", "n_unchanged", "n_withdrawn", "note", "undoes", "undone_by",
    "upload"];
  const shown = [], older = document.getElementById("batches-older");
  const load = async (before) => {
    const q = new URLSearchParams({ limit: PAGE });
    if (before) q.set("before", before);
    const r = await api("/api/batches?" + q.toString());
    if (!r.ok) { setStatus(r.body.error, true); return; }
    shown.push(...r.body.batches.reverse());
    const body = fillTable(table, shown, shown.length ? cols : undefined);
    older.hidden = !r.body.more;
    if (!shown.length) return;
    setStatus(`${shown.length} 个批次${r.body.more ? "（还有更早的）" : ""} / ${shown.length} batches` +
      (r.body.more ? " (older ones remain)" : ""));
    table.querySelector("thead tr").appendChild(el("th", "撤销 undo"));
    [...body.children].forEach((tr, k) => undoCell(tr, shown[k]));
  };
  older.addEventListener("click", () => load(shown[shown.length - 1].batch_id));
  await load(null);
}

function undoCell(tr, row) {
  const td = tr.appendChild(el("td"));
  if (!row.may_undo || row.undone_by !== null || row.kind === "undo") return;
  const b = td.appendChild(el("button", "撤销 Undo"));
  b.type = "button";
  b.addEventListener("click", async () => {
    const reason = document.getElementById("undo-reason");
    if (!reason.value.trim()) { reason.reportValidity(); reason.focus(); return; }
    if (!confirm(`撤销批次 ${row.batch_id}（${reason.value}）? / Undo batch ${row.batch_id}?`)) return;
    const u = await api("/api/undo", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ batch_id: row.batch_id, reason: reason.value }),
    });
    if (u.ok) location.reload(); else setStatus(u.body.error, true);
  });
}

// ---- history ----------------------------------------------------------------
function initHistory() {
  const form = document.getElementById("history-form"), key = document.getElementById("key");
  const params = new URLSearchParams(location.search);
  const load = async () => {
    const r = await api("/api/history/" + key.value.split("/").map(encodeURIComponent).join("/"));
    if (!r.ok) { setStatus(r.body.error, true); fillTable(document.getElementById("versions"), []); return; }
    setStatus(`${r.body.versions.length} 个版本 / versions`);
    fillTable(document.getElementById("versions"), r.body.versions, ["version", "batch_id",
      "batch_kind", "batch_user", "valid_from", "valid_to", "end_reason", "project_type",
      "year", "area_mu", "source_file"]);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  if (params.get("key")) { key.value = params.get("key"); load(); }
  document.getElementById("withdraw-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("/api/withdraw", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: key.value, reason: document.getElementById("reason").value }),
    });
    if (r.ok) load(); else setStatus(r.body.error, true);
  });
}

// ---- as of, diff -------------------------------------------------------------
function initAsOf() {
  let map = null, layer = null;
  const form = document.getElementById("asof-form");
  const show = async () => {
    const q = new URLSearchParams();
    const asOf = document.getElementById("as_of").value.trim();
    const district = document.getElementById("district").value;
    if (asOf) q.set("as_of", asOf);
    if (district) q.set("district", district);
    setStatus("读取中… reading…");
    const r = await api("/api/asof?" + q.toString());
    const table = document.getElementById("asof-table");
    if (!r.ok) { setStatus(r.body.error, true); fillTable(table, []); return; }
    const b = r.body;
    setStatus(`${asOf ? "截至 as of " + asOf : "现在 now"}：${b.n_polygons} 个图斑 polygons，` +
      `${b.area_mu.toFixed(1)} 亩 mu` + (b.truncated ? "（地图只画前 5000 个 / map shows the first 5000）" : ""));
    fillTable(table, b.districts, ["adcode", "name_zh", "name_en", "n_polygons", "area_mu"]);
    if (!window.L) return;
    if (!map) {
      map = L.map("map");
      fetch("/assets/districts.geojson").then((x) => x.json()).then((g) => {
        L.geoJSON(g, { style: { color: "#777", weight: 1, fill: false } }).addTo(map);
      });
    }
    if (layer) layer.remove();
    layer = L.geoJSON(b.features, {
      style: { color: "#2f5d34", weight: 2, fillOpacity: 0.3 },
      onEachFeature: (f, lyr) => {
        const p = f.properties, box = el("div");
        box.appendChild(el("strong", p.key));
        box.appendChild(el("div", `${p.project_type} ${p.year ?? ""} · ${(p.area_mu ?? 0).toFixed(1)} 亩 mu`));
        lyr.bindPopup(box);
      },
    }).addTo(map);
    const bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 14 });
    else map.setView([30.0, 107.5], 7);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  document.getElementById("diff-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = new URLSearchParams({
      a: document.getElementById("diff-a").value.trim(),
      b: document.getElementById("diff-b").value.trim(),
    });
    const district = document.getElementById("district").value;
    if (district) q.set("district", district);
    const status = document.getElementById("diff-status");
    const r = await api("/api/diff?" + q.toString());
    const ids = ["diff-summary", "diff-districts", "diff-changes"];
    if (!r.ok) {
      status.textContent = r.body.error; status.className = "error";
      ids.forEach((i) => fillTable(document.getElementById(i), []));
      return;
    }
    const b = r.body;
    status.textContent = `${b.a} → ${b.b}：${b.n_changes} 个图斑有变化 polygons changed` +
      (b.truncated ? "（只列前 5000 个 / the first 5000 listed）" : "");
    status.className = "ok";
    fillTable(document.getElementById("diff-summary"), b.summary,
      ["change", "n_polygons", "area_mu_from", "area_mu_to"]);
    fillTable(document.getElementById("diff-districts"), b.districts);
    const body = fillTable(document.getElementById("diff-changes"), b.changes,
      ["key", "change", "project_type", "version_from", "version_to", "area_mu_from",
        "area_mu_to"]);
    if (!b.changes.length) return;
    [...body.children].forEach((tr, k) => {  // each key links to its history
      const cell = tr.firstChild, a = el("a", b.changes[k].key);
      a.href = "/history?key=" + encodeURIComponent(b.changes[k].key);
      cell.replaceChildren(a);
    });
  });
  const params = new URLSearchParams(location.search);
  if (params.get("as_of")) document.getElementById("as_of").value = params.get("as_of");
  show();
}

// ---- progress ---------------------------------------------------------------
function initProgress() {
  const by = document.getElementById("by");
  const xlsx = document.getElementById("xlsx");
  const link = () => { xlsx.href = "/api/progress.xlsx?by=" + encodeURIComponent(by.value); };
  by.addEventListener("change", link);
  link();
  let again = null;
  const load = async (quiet) => {
    clearTimeout(again);
    if (quiet !== true) setStatus("计算中… computing…");
    const r = await api("/api/progress?by=" + encodeURIComponent(by.value));
    const box = document.getElementById("tables");
    box.replaceChildren();
    if (!r.ok) { setStatus(r.body.error, true); return; }
    const asOf = r.body.as_of || {};
    const stamp = "截至批次 " + (asOf.last_batch_id ?? "—") + "（" + (asOf.last_batch_at || "") +
      "） as of batch " + (asOf.last_batch_id ?? "—");
    if (r.body.current) {
      setStatus(stamp);
    } else {
      const now = (r.body.store_state || {}).last_batch_id;
      setStatus(stamp + "；正在按最新批次 " + now + " 更新 — updating to batch " +
        now, true);
      again = setTimeout(() => load(true), 2000);  // until it is current
    }
    Object.entries(r.body.tables).forEach(([name, rows]) => {
      box.appendChild(el("h2", name));
      const t = box.appendChild(el("table", null, "data"));
      t.appendChild(el("thead")); t.appendChild(el("tbody"));
      t.id = "table-" + name;
      fillTable(t, rows);
    });
  };
  by.addEventListener("change", load);
  load();
}

document.addEventListener("DOMContentLoaded", () => {
  initLogout();
  const page = document.body.dataset.page;
  ({ login: initLogin, upload: initUpload, batches: initBatches,
     history: initHistory, progress: initProgress, asof: initAsOf }[page] || (() => {}))();
});
