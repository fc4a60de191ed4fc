"use strict";
// The report page: reads the run's data (JSON in #report-data), builds the header, funnel, table of candidates and
// run facts with plain DOM, then unpacks the inlined plotly.js (gzip + base64) and draws the front and progress.
(function () {
  const report = (window.eeeaReport = { errors: [], ready: false });
  window.addEventListener("error", (e) => report.errors.push(String(e.message || e)));
  const D = JSON.parse(document.getElementById("report-data").textContent);
  report.data = D;
  const F = {};
  D.fields.forEach((f, i) => (F[f] = i));
  const rows = D.rows;
  const frontSet = new Set(D.front);
  const objective = D.objectives[0] || "objective";
  const AXIS_LABELS = { params: "params", macs: "MACs", latency: "latency (µs, predicted)" };
  const FAILED = (i) => rows[i][F.status] !== "ok";

  // formatting --------------------------------------------------------------------------------------------------
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  function count(n) {
    if (n === null || n === undefined) return "–";
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }
  function num(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return String(v);
    return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));
  }
  function seconds(s) {
    if (s === null || s === undefined) return "–";
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    const m = Math.floor(s / 60);
    return m + " min " + String(Math.round(s - 60 * m)).padStart(2, "0") + " s";
  }
  // a word the shell reads as it is, else quoted (as Python's shlex.quote)
  const quote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\"'\"'") + "'");
  function commands(i) {
    const r = rows[i], key = r[F.key], genome = quote(r[F.genome]);
    const measured = D.measured[key] || {};
    let exp;
    if (r[F.checkpoint]) {  // trained weights: int8, unless the front's timing found it off or slower than fp32
      const int8 = String(measured.int8 || "");
      const float = int8.endsWith("failed check") || int8.endsWith("slower than fp32");
      const [format, suffix] = float ? ["onnx", "onnx"] : ["onnx-int8", "int8.onnx"];
      exp = `eeea export ${quote(D.commands.run + "/" + r[F.checkpoint])} --format ${format} --out ${key}.${suffix}`;
    } else exp = `eeea export ${genome} --format onnx --out ${key}.onnx`;
    const train = ["eeea train --arch", genome, ...D.commands.train_flags.map(quote), "--out", `${key}-run`].join(" ");
    return { export: exp, train };
  }
  const plain = (v) => (v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));
  const axisValue = (axis) => (i) => rows[i][F[axis]];

  // header --------------------------------------------------------------------------------------------------------
  function header() {
    const s = D.facts.settings || {};
    const title = `${s.task || "search"} on ${s.space || "?"}`;
    document.title = `eeea: ${title} (${D.status})`;
    document.getElementById("title").textContent = `eeea search report: ${title}`;
    const st = D.state || {};
    const gen = st.generation === null || st.generation === undefined ? "no generation finished yet"
      : `generations 0 to ${st.generation} done`;
    document.getElementById("summary").textContent =
      `${D.status} · ${rows.length} candidates evaluated · front of ${D.front.length} · ${gen} · ` +
      `written ${D.facts.written || "?"} from ${D.facts.run || "?"}`;
    const notes = document.getElementById("notes");
    for (const n of D.notes) notes.append(el("li", { text: n }));
  }

  // details of one candidate ---------------------------------------------------------------------------------------
  function copyButton(text) {
    const b = el("button", { type: "button", text: "copy" });
    b.addEventListener("click", () => {
      const done = () => (b.textContent = "copied");
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
      else {
        const range = document.createRange();
        range.selectNodeContents(b.previousSibling);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = "selected: copy it";
      }
    });
    return b;
  }
  function showDetails(i) {
    const r = rows[i];
    const aside = document.getElementById("details");
    aside.replaceChildren();
    aside.dataset.index = String(i);
    const dl = el("dl");
    const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
    add("status", r[F.status] + (frontSet.has(i) ? " · on the front" : ""));
    add("generation", num(r[F.generation]));
    add("time", seconds(r[F.seconds]));
    add(objective, num(r[F.objective]));
    add("params", count(r[F.params]));
    add("MACs", count(r[F.macs]));
    if (r[F.latency] !== null) add("latency (pred.)", num(r[F.latency]) + " µs");
    D.extras.forEach((e, k) => add(e, num(r[F.extra][k])));
    const measured = D.measured[r[F.key]];
    if (measured) for (const [k, v] of Object.entries(measured)) add(k, v);
    if (r[F.note]) add("note", r[F.note]);
    aside.append(el("h3", { text: r[F.key] }), dl);
    aside.append(el("h4", { text: "genome" }), el("pre", { class: "genome", text: r[F.genome] }));
    if (r[F.describe].length) {
      const lines = r[F.describe].join("\n");
      aside.append(el("h4", { text: "architecture" }), el("pre", { class: "describe", text: lines }));
    }
    const cmds = commands(i);
    const what = r[F.checkpoint] ? "its trained weights" : "its architecture (untrained weights)";
    for (const [label, field] of [[`export ${what}`, "export"], ["train it", "train"]]) {
      const pre = el("pre", { class: "cmd-" + field, text: cmds[field] });
      aside.append(el("h4", { text: label }), el("div", { class: "cmd" }, pre, copyButton(cmds[field])));
    }
    document.querySelectorAll("#candidates-table tbody tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = document.querySelector(`#candidates-table tbody tr[data-index="${i}"]`);
    if (tr) tr.classList.add("selected");
  }

  // EE-PI funnel ----------------------------------------------------------------------------------------------------
  const STAGES = { draws: "EE-PI draws (initial population, and fresh draws for offspring it could not repair)",
                   offspring: "offspring bred by the optimiser, screened against the same budget",
                   evaluated: "evaluations" };
  function funnel() {
    const body = document.querySelector("#funnel-table tbody");
    const top = Math.max(1, ...D.funnel.map((r) => r.count));
    let stage = null;
    for (const r of D.funnel) {
      if (r.stage !== stage) {
        stage = r.stage;
        body.append(el("tr", {}, el("th", { colspan: "3", text: STAGES[stage] || stage })));
      }
      const kind = r.label.startsWith("rejected") || r.label.startsWith("over budget") ? " reject"
        : ["crashed", "diverged", "oom"].includes(r.label) ? " fail" : "";
      const bar = el("div", { class: "bar" + kind, style: `width:${(320 * r.count) / top}px` });
      const count = el("td", { class: "count", text: r.count.toLocaleString("en") });
      body.append(el("tr", { "data-label": r.label }, el("td", { text: r.label }), count, el("td", {}, bar)));
    }
  }

  // table of candidates ---------------------------------------------------------------------------------------------
  function columns() {
    const cols = [
      { id: "n", label: "#", value: (i) => i + 1 },
      { id: "key", label: "key", value: (i) => rows[i][F.key] },
      { id: "generation", label: "gen", value: (i) => rows[i][F.generation] },
      { id: "status", label: "status", value: (i) => rows[i][F.status] },
      { id: "front", label: "front", value: (i) => (frontSet.has(i) ? 1 : 0), show: (v) => (v ? "★" : "") },
      { id: "objective", label: objective, value: (i) => rows[i][F.objective], show: num },
      { id: "params", label: "params", value: (i) => rows[i][F.params], show: count },
      { id: "macs", label: "MACs", value: (i) => rows[i][F.macs], show: count },
    ];
    if (D.axes.includes("latency")) {
      cols.push({ id: "latency", label: "latency µs", value: (i) => rows[i][F.latency], show: num });
    }
    D.extras.forEach((e, k) => cols.push({ id: "extra-" + e, label: e, value: (i) => rows[i][F.extra][k], show: num }));
    cols.push({ id: "seconds", label: "time", value: (i) => rows[i][F.seconds], show: seconds });
    return cols;
  }
  function table() {
    const cols = columns();
    const head = el("tr");
    const body = document.querySelector("#candidates-table tbody");
    cols.forEach((c) => head.append(el("th", { "data-col": c.id, title: "sort", text: c.label })));
    document.querySelector("#candidates-table thead").append(head);
    const frag = document.createDocumentFragment();
    rows.forEach((r, i) => {
      const tr = el("tr", { "data-index": String(i), "data-status": r[F.status] });
      for (const c of cols) {
        const v = c.value(i);
        const td = el("td", { text: c.show ? c.show(v) : plain(v) });
        if (c.id === "status") td.className = v === "ok" ? "status-ok" : "status-bad";
        tr.append(td);
      }
      frag.append(tr);
    });
    body.append(frag);
    body.addEventListener("click", (e) => {
      const tr = e.target.closest("tr");
      if (tr) showDetails(Number(tr.dataset.index));
    });
    head.addEventListener("click", (e) => {
      const th = e.target.closest("th");
      if (!th) return;
      const col = cols.find((c) => c.id === th.dataset.col);
      const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      head.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const order = rows.map((_, i) => i).sort((a, b) => {
        const x = col.value(a), y = col.value(b);
        if (x === null || x === undefined) return y === null || y === undefined ? a - b : 1;  // missing last
        if (y === null || y === undefined) return -1;
        const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return c ? dir * c : a - b;
      });
      const byIndex = new Map([...body.children].map((tr) => [Number(tr.dataset.index), tr]));
      const sorted = document.createDocumentFragment();
      order.forEach((i) => sorted.append(byIndex.get(i)));
      body.append(sorted);
    });
    const status = document.getElementById("status-filter");
    const seen = [...new Set(rows.map((r) => r[F.status]))].sort();
    for (const [v, label] of [["", "all"], ["front", "on the front"], ...seen.map((s) => [s, s])]) {
      status.append(el("option", { value: v, text: label }));
    }
    const text = document.getElementById("text-filter");
    const filter = () => {
      const want = status.value, needle = text.value.trim().toLowerCase();
      let shown = 0;
      for (const tr of body.children) {
        const i = Number(tr.dataset.index);
        const ok = (!want || (want === "front" ? frontSet.has(i) : rows[i][F.status] === want)) &&
          (!needle || rows[i][F.key].includes(needle) || rows[i][F.genome].toLowerCase().includes(needle));
        tr.hidden = !ok;
        shown += ok;
      }
      document.getElementById("shown").textContent = `${shown} of ${rows.length} shown`;
    };
    status.addEventListener("change", filter);
    text.addEventListener("input", filter);
    filter();
  }

  // run facts -------------------------------------------------------------------------------------------------------
  function facts() {
    const body = document.getElementById("facts-body");
    const f = D.facts;
    const block = (title, obj) => {
      if (!obj || (typeof obj === "object" && !Object.keys(obj).length)) {
        return el("div", {}, el("h4", { text: title }), el("p", { class: "hint", text: "not recorded" }));
      }
      const dl = el("dl");
      for (const [k, v] of Object.entries(obj)) {
        dl.append(el("dt", { text: k }), el("dd", { text: Array.isArray(v) ? v.join(", ") : plain(v) }));
      }
      return el("div", {}, el("h4", { text: title }), dl);
    };
    const grid = el("div", { class: "facts-grid" });
    grid.append(block("settings", f.settings), block("data", f.data));
    const split = el("div", {}, el("h4", { text: "data split and checks (as the search read its data)" }));
    if (f.split && f.split.length) split.append(el("ul", {}, ...f.split.map((s) => el("li", { text: s }))));
    else split.append(el("p", { class: "hint", text: "not recorded" }));
    grid.append(split);
    const none = "none (no latency objective, screen or reference table for this space)";
    grid.append(f.latency_table ? block("latency table", f.latency_table)
      : el("div", {}, el("h4", { text: "latency table" }), el("p", { class: "hint", text: none })));
    grid.append(block("machine (of the latest session)", f.machine),
      block("versions (of the latest session)", f.versions));
    body.append(grid);
    body.append(el("h4", { text: "sessions (start and resumes)" }));
    if (f.sessions && f.sessions.length) {
      const t = el("table", { class: "sessions" });
      const keys = ["started", "kind", "evaluations_at_start", "ended", "outcome", "host", "command"];
      t.append(el("tr", {}, ...keys.map((k) => el("th", { text: k.replace(/_/g, " ") }))));
      for (const s of f.sessions) t.append(el("tr", {}, ...keys.map((k) => el("td", { text: plain(s[k]) }))));
      body.append(t);
    } else body.append(el("p", { class: "hint", text: "not recorded (a run from before eeea recorded its sessions)" }));
    const summary = el("summary", { text: "config.yaml (the resolved configuration)" });
    body.append(el("details", {}, summary, el("pre", { text: f.config || "" })));
  }

  // plots -----------------------------------------------------------------------------------------------------------
  async function loadPlotly() {
    if (window.Plotly) return;
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot unpack the plots (it lacks DecompressionStream); open the report in a " +
        "current Chrome, Edge, Firefox or Safari");
    }
    const packed = atob(document.getElementById("plotly-gz").textContent.trim());
    const bytes = new Uint8Array(packed.length);
    for (let i = 0; i < packed.length; i++) bytes[i] = packed.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const script = document.createElement("script");
    script.textContent = await new Response(stream).text();
    document.head.append(script);
  }
  function hover(i) {
    const r = rows[i];
    const lines = [`<b>${r[F.key]}</b>${frontSet.has(i) ? " (front)" : ""}`, `${objective} ${num(r[F.objective])}`,
      `params ${count(r[F.params])} · MACs ${count(r[F.macs])}`];
    if (r[F.latency] !== null) lines.push(`latency ${num(r[F.latency])} µs (pred.)`);
    D.extras.slice(0, 4).forEach((e, k) => lines.push(`${e} ${num(r[F.extra][k])}`));
    lines.push(`${r[F.status]} · gen ${r[F.generation]} · ${seconds(r[F.seconds])}`);
    return lines.join("<br>");
  }
  function frontFigure(axis, log) {
    const groups = { evaluated: [], failed: [], front: [] };
    rows.forEach((_, i) => groups[frontSet.has(i) ? "front" : FAILED(i) ? "failed" : "evaluated"].push(i));
    const x = axisValue(axis), y = (i) => rows[i][F.objective];
    const trace = (idx, name, marker) => ({ type: "scatter", mode: "markers", name, x: idx.map(x), y: idx.map(y),
      customdata: idx, hovertext: idx.map(hover), hoverinfo: "text", marker });
    const traces = [
      trace(groups.evaluated, "evaluated", { color: "#8c99a8", size: 7, opacity: 0.7 }),
      trace(groups.failed, "failed (crashed, diverged, out of memory)", { color: "#f58518", size: 9, symbol: "x" }),
    ];
    if (D.objectives.length === 2 && axis === D.objectives[1] && groups.front.length > 1) {
      const s = [...groups.front].sort((a, b) => x(a) - x(b));
      traces.push({ type: "scatter", mode: "lines", x: s.map(x), y: s.map(y), hoverinfo: "skip", showlegend: false,
        line: { shape: "hv", color: "#d62728", width: 1.5 }, name: "front line" });
    }
    traces.push(trace(groups.front, "Pareto front", { color: "#d62728", size: 11, line: { color: "#fff", width: 1 } }));
    const layout = { margin: { l: 64, r: 16, t: 10, b: 54 }, hovermode: "closest",
      legend: { orientation: "h", y: 1.08 },
      xaxis: { title: { text: AXIS_LABELS[axis] || axis }, type: log ? "log" : "linear", zeroline: false },
      yaxis: { title: { text: objective }, zeroline: false }, height: 470 };
    return [traces, layout];
  }
  function frontPlot() {
    const controls = document.getElementById("axis-controls");
    if (!D.axes.length) return;
    controls.append("x axis:");
    const first = D.objectives[1] && D.axes.includes(D.objectives[1]) ? D.objectives[1] : D.axes[0];
    for (const a of D.axes) {
      const input = el("input", { type: "radio", name: "xaxis", value: a, id: "axis-" + a });
      input.checked = a === first;
      controls.append(el("label", {}, input, " " + (AXIS_LABELS[a] || a)));
    }
    const logBox = el("input", { type: "checkbox", id: "logx" });
    controls.append(el("label", {}, logBox, " log scale"));
    const draw = () => {
      const axis = controls.querySelector("input[name=xaxis]:checked").value;
      const [traces, layout] = frontFigure(axis, logBox.checked);
      return Plotly.react("front-plot", traces, layout, { displaylogo: false, responsive: true });
    };
    controls.addEventListener("change", draw);
    return draw().then((gd) => gd.on("plotly_click", (ev) => {
      const p = ev.points && ev.points[0];
      if (p && p.customdata !== undefined) showDetails(p.customdata);
    }));
  }
  function progressPlot() {
    const P = D.progress;
    const n = P.best.length;
    if (!n) return Promise.resolve();
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const traces = [
      { type: "scatter", mode: "lines", name: `best ${objective} so far`, x: xs, y: P.best,
        line: { shape: "hv", color: "#4c78a8", width: 2 } },
      { type: "scatter", mode: "lines", name: P.hv_label, x: xs, y: P.hv, yaxis: "y2",
        line: { shape: "hv", color: "#54a24b", width: 2 } },
    ];
    const ceiling = P.ceiling !== null && P.ceiling !== undefined;
    if (ceiling) {
      traces.push({ type: "scatter", mode: "lines", name: "true front (the ceiling)", x: [1, n],
        y: [P.ceiling, P.ceiling], yaxis: "y2", line: { dash: "dash", color: "#54a24b", width: 1.5 } });
    }
    const marks = P.generations;
    const step = Math.max(1, Math.ceil(marks.length / 30));
    const shown = marks.filter((_, k) => k % step === 0);
    const shapes = shown.map(([, start]) => ({ type: "line", xref: "x", yref: "paper", x0: start, x1: start, y0: 0,
      y1: 1, line: { color: "#c5ccd6", width: 1, dash: "dot" } }));
    const annotations = shown.map(([g, start]) => ({ x: start, y: 1, xref: "x", yref: "paper", text: `g${g}`,
      showarrow: false, yanchor: "bottom", font: { size: 10, color: "#7b8794" } }));
    const layout = { margin: { l: 64, r: 64, t: 44, b: 54 }, height: 420, hovermode: "x unified",
      legend: { orientation: "h", y: -0.2 }, shapes, annotations,
      xaxis: { title: { text: "evaluations (dotted: where each generation starts)" } },
      yaxis: { title: { text: `best ${objective}` } },
      yaxis2: { title: { text: "hypervolume" }, overlaying: "y", side: "right", tickmode: "auto", showgrid: false,
        ...(ceiling ? { range: [0, 1.05 * P.ceiling] } : { rangemode: "tozero" }) } };
    return Plotly.newPlot("progress-plot", traces, layout, { displaylogo: false, responsive: true });
  }

  // start -----------------------------------------------------------------------------------------------------------
  for (const part of [header, funnel, table, facts]) {
    try { part(); } catch (e) { console.error(e); report.errors.push(String(e)); }
  }
  if (!rows.length) {
    const text = "No candidate evaluated yet: reload when the first round is done.";
    for (const id of ["front-plot", "progress-plot"]) {
      document.getElementById(id).append(el("p", { class: "hint", text }));
    }
  }
  (rows.length ? loadPlotly() : Promise.resolve())
    .then(() => rows.length && Promise.all([frontPlot(), progressPlot()]))
    .then(() => { report.ready = true; document.body.dataset.ready = "plots"; })
    .catch((e) => {
      for (const id of ["front-plot", "progress-plot"]) {
        document.getElementById(id).replaceChildren(el("p", { class: "plot-error", text: "No plot: " + e.message }));
      }
      report.ready = true;
      document.body.dataset.ready = "no-plots";
      report.errors.push(String(e));
    });
  report.showDetails = showDetails;
  report.commands = commands;
})();
