// The operator console: asks for the operator key, polls GET /v1/console and draws every
// panel as inline SVG. No libraries; text goes in through textContent only, never as HTML.
"use strict";

(function () {
  const KEY_STORAGE = "mentorship.operatorKey";
  const REFRESH_MS = 5000;
  const SVG_NS = "http://www.w3.org/2000/svg";

  let timer = null;
  let lastData = null;

  // --- small DOM helpers ------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function fmt(n) {
    return n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
  }

  function pct(rate) {
    return rate === null || rate === undefined ? "–" : `${Math.round(rate * 100)} %`;
  }

  function hours(h) {
    if (h < 1) return `${Math.round(h * 60)} min`;
    if (h < 48) return `${h.toFixed(1)} h`;
    return `${(h / 24).toFixed(1)} d`;
  }

  function stats(container, items) {
    clear(container);
    for (const item of items) {
      const box = el("div", { class: `stat ${item.tone || ""}`.trim(), id: item.id });
      box.appendChild(el("span", { class: "value" }, item.value));
      box.appendChild(el("span", { class: "label" }, item.label));
      container.appendChild(box);
    }
  }

  function emptyNote(container, text) {
    clear(container).appendChild(el("p", { class: "empty" }, text));
  }

  // A "nice" upper bound for an axis: 1, 2, 5 times a power of ten.
  function niceMax(value) {
    if (value <= 0) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  // --- charts -------------------------------------------------------------------------------

  // Vertical bars; `series` is [{name, cls, values: [...]}], one value per category, drawn
  // side by side within each category.
  function columnChart(container, categories, series, options) {
    const opts = Object.assign({ width: 520, height: 200, rotate: false }, options || {});
    const total = series.reduce((sum, s) => sum + s.values.reduce((a, b) => a + b, 0), 0);
    if (!categories.length || total === 0) {
      emptyNote(container, opts.empty || "Nothing to show yet.");
      return;
    }
    const left = 36;
    const bottom = opts.rotate ? 62 : 30;
    const top = series.length > 1 ? 22 : 10;
    const plotW = opts.width - left - 8;
    const plotH = opts.height - top - bottom;
    const max = niceMax(Math.max(...series.flatMap((s) => s.values)));
    const svg = svgEl("svg", {
      viewBox: `0 0 ${opts.width} ${opts.height}`,
      role: "img",
      "aria-label": opts.label || "bar chart",
    });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotH - fraction * plotH;
      svg.appendChild(svgEl("line", { class: fraction ? "grid" : "axis", x1: left, x2: left + plotW, y1: y, y2: y }));
      svg.appendChild(svgEl("text", { class: "tick", x: left - 4, y: y + 4, "text-anchor": "end" }, fmt(max * fraction)));
    }
    const slot = plotW / categories.length;
    const barW = Math.max(2, (slot * 0.8) / series.length);
    categories.forEach((category, i) => {
      series.forEach((s, j) => {
        const value = s.values[i] || 0;
        const h = (value / max) * plotH;
        const x = left + i * slot + slot * 0.1 + j * barW;
        const bar = svgEl("rect", { class: `bar ${s.cls}`, x, y: top + plotH - h, width: barW - 1, height: h });
        bar.appendChild(svgEl("title", {}, `${category}: ${fmt(value)} ${s.name}`));
        svg.appendChild(bar);
        if (value > 0 && barW >= 14) {
          svg.appendChild(svgEl("text", { class: "bar-value", x: x + barW / 2, y: top + plotH - h - 3, "text-anchor": "middle" }, fmt(value)));
        }
      });
      const cx = left + i * slot + slot / 2;
      const label = svgEl("text", { class: "bar-label", x: cx, y: top + plotH + 14, "text-anchor": opts.rotate ? "end" : "middle" }, category);
      if (opts.rotate) label.setAttribute("transform", `rotate(-35 ${cx} ${top + plotH + 14})`);
      svg.appendChild(label);
    });
    if (series.length > 1) legend(svg, series, left, 12);
    clear(container).appendChild(svg);
  }

  function legend(svg, series, x, y) {
    const group = svgEl("g", { class: "legend" });
    let offset = x;
    for (const s of series) {
      group.appendChild(svgEl("rect", { class: `bar ${s.cls}`, x: offset, y: y - 9, width: 10, height: 10 }));
      group.appendChild(svgEl("text", { x: offset + 14, y }, s.name));
      offset += 24 + s.name.length * 6.2;
    }
    svg.appendChild(group);
  }

  // Horizontal butterfly: demand to the left of the centre line, supply to the right, each
  // scaled to its own maximum (they are counted in different units).
  function butterflyChart(container, rows, left, right) {
    if (!rows.length) {
      emptyNote(container, "No skills known yet.");
      return;
    }
    const width = 900;
    const rowH = 20;
    const top = 24;
    const height = top + rows.length * rowH + 6;
    const labelW = 210;
    const half = (width - labelW - 20) / 2;
    const centre = labelW + half;
    const maxLeft = Math.max(1, ...rows.map((r) => r.left));
    const maxRight = Math.max(1, ...rows.map((r) => r.right));
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "skills in demand against strengths on offer" });
    svg.appendChild(svgEl("text", { class: "tick", x: centre - 6, y: 12, "text-anchor": "end" }, `← ${left}`));
    svg.appendChild(svgEl("text", { class: "tick", x: centre + 6, y: 12 }, `${right} →`));
    rows.forEach((row, i) => {
      const y = top + i * rowH;
      svg.appendChild(svgEl("text", { class: "bar-label", x: 0, y: y + 13 }, row.label));
      const wl = (row.left / maxLeft) * (half - 40);
      const wr = (row.right / maxRight) * (half - 40);
      const shortage = row.left > 0 && row.right === 0;
      const demand = svgEl("rect", { class: `bar ${shortage ? "red" : "orange"}`, x: centre - wl, y: y + 3, width: wl, height: rowH - 6 });
      demand.appendChild(svgEl("title", {}, `${row.label}: ${fmt(row.left)} ${left}`));
      svg.appendChild(demand);
      const supply = svgEl("rect", { class: "bar blue", x: centre, y: y + 3, width: wr, height: rowH - 6 });
      supply.appendChild(svgEl("title", {}, `${row.label}: ${fmt(row.right)} ${right}`));
      svg.appendChild(supply);
      svg.appendChild(svgEl("text", { class: "bar-value", x: centre - wl - 4, y: y + 13, "text-anchor": "end" }, fmt(row.left)));
      svg.appendChild(svgEl("text", { class: "bar-value", x: centre + wr + 4, y: y + 13 }, row.rightText));
    });
    svg.appendChild(svgEl("line", { class: "axis", x1: centre, x2: centre, y1: top, y2: height - 4 }));
    clear(container).appendChild(svg);
  }

  // Proposals per bucket as bars, the acceptance rate of each bucket's decisions as a line
  // on a 0-100 % axis to the right.
  function acceptanceChart(container, buckets, unit) {
    const proposed = buckets.map((b) => b.proposed);
    const decided = buckets.map((b) => b.accepted + b.declined + b.lapsed + b.withdrawn);
    if (!buckets.length || proposed.concat(decided).every((n) => n === 0)) {
      emptyNote(container, "No proposals in this period.");
      return;
    }
    const width = 520;
    const height = 210;
    const left = 36;
    const right = 40;
    const top = 22;
    const bottom = 30;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const max = niceMax(Math.max(...proposed, ...decided));
    const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "acceptance rate over time" });
    for (const fraction of [0, 0.5, 1]) {
      const y = top + plotH - fraction * plotH;
      svg.appendChild(svgEl("line", { class: fraction ? "grid" : "axis", x1: left, x2: left + plotW, y1: y, y2: y }));
      svg.appendChild(svgEl("text", { class: "tick", x: left - 4, y: y + 4, "text-anchor": "end" }, fmt(max * fraction)));
      svg.appendChild(svgEl("text", { class: "tick", x: left + plotW + 4, y: y + 4 }, `${fraction * 100} %`));
    }
    const slot = plotW / buckets.length;
    const barW = Math.max(1, slot * 0.38);
    const points = [];
    const labelEvery = Math.ceil(buckets.length / 8);
    buckets.forEach((b, i) => {
      const x = left + i * slot + slot * 0.1;
      const hp = (b.proposed / max) * plotH;
      const hd = (decided[i] / max) * plotH;
      const start = new Date(b.start);
      const when = unit === "hour"
        ? `${start.toISOString().slice(11, 13)}:00`
        : start.toISOString().slice(5, 10);
      const p = svgEl("rect", { class: "bar blue-light", x, y: top + plotH - hp, width: barW, height: hp });
      p.appendChild(svgEl("title", {}, `${when} UTC: ${b.proposed} proposed`));
      svg.appendChild(p);
      const d = svgEl("rect", { class: "bar grey", x: x + barW, y: top + plotH - hd, width: barW, height: hd });
      d.appendChild(svgEl("title", {}, `${when} UTC: ${b.accepted} accepted, ${b.declined} declined, ${b.lapsed} lapsed, ${b.withdrawn} withdrawn`));
      svg.appendChild(d);
      if (b.acceptance_rate !== null) {
        points.push([left + i * slot + slot / 2, top + plotH - b.acceptance_rate * plotH]);
      }
      if (i % labelEvery === 0) {
        svg.appendChild(svgEl("text", { class: "bar-label", x: left + i * slot + slot / 2, y: top + plotH + 14, "text-anchor": "middle" }, when));
      }
    });
    if (points.length > 1) {
      svg.appendChild(svgEl("polyline", { class: "rate-line", points: points.map((pt) => pt.join(",")).join(" ") }));
    }
    for (const [x, y] of points) svg.appendChild(svgEl("circle", { class: "rate-dot", cx: x, cy: y, r: 3 }));
    legend(svg, [
      { name: "proposed", cls: "blue-light" },
      { name: "decided", cls: "grey" },
      { name: "acceptance rate", cls: "green" },
    ], left, 12);
    clear(container).appendChild(svg);
  }

  // --- panels -------------------------------------------------------------------------------

  function drawMentees(m) {
    stats($("stats-mentees"), [
      { id: "stat-mentees", value: fmt(m.registered), label: "mentees" },
      { id: "stat-waiting", value: fmt(m.waiting), label: "waiting", tone: m.waiting ? "warn" : "" },
      { id: "stat-matched", value: fmt(m.with_open_match), label: "with a proposal or mentor" },
    ]);
    columnChart(
      $("chart-waits"),
      m.wait_buckets.map((b) => b.label),
      [{ name: "mentees", cls: "orange", values: m.wait_buckets.map((b) => b.count) }],
      { label: "waiting mentees by time waited", empty: "Nobody is waiting." },
    );
    const body = clear($("table-waits").querySelector("tbody"));
    for (const w of m.longest_waits) {
      const row = el("tr");
      row.appendChild(el("td", { class: "id", title: w.mentee_id }, `${w.mentee_id.slice(0, 8)}…`));
      row.appendChild(el("td", {}, new Date(w.waiting_since).toISOString().replace("T", " ").slice(0, 16) + " UTC"));
      row.appendChild(el("td", { class: "num" }, hours(w.waiting_hours)));
      body.appendChild(row);
    }
    if (!m.longest_waits.length) {
      const row = el("tr");
      row.appendChild(el("td", { colspan: "3", class: "empty" }, "Nobody is waiting."));
      body.appendChild(row);
    }
  }

  function drawMentors(m) {
    stats($("stats-mentors"), [
      { id: "stat-mentors", value: fmt(m.registered), label: "mentors" },
      { id: "stat-accepting", value: fmt(m.accepting), label: "accepting" },
      { id: "stat-slots-used", value: `${fmt(m.used)} / ${fmt(m.slots)}`, label: "slots used" },
      { id: "stat-free-slots", value: fmt(m.free_slots), label: "free slots", tone: m.free_slots ? "" : "warn" },
    ]);
    columnChart(
      $("chart-capacity"),
      m.by_capacity.map((r) => `capacity ${r.capacity}`),
      [
        { name: "slots", cls: "blue-light", values: m.by_capacity.map((r) => r.slots) },
        { name: "used", cls: "blue", values: m.by_capacity.map((r) => r.used) },
      ],
      { label: "slots offered and used by capacity", empty: "No mentors yet." },
    );
    columnChart(
      $("chart-utilisation"),
      m.utilisation.map((b) => b.label),
      [{ name: "mentors", cls: "blue", values: m.utilisation.map((b) => b.count) }],
      { label: "mentors by load", empty: "No mentors yet.", height: 170 },
    );
  }

  function drawProposals(p) {
    const count = (status) => (p.by_status.find((s) => s.status === status) || { count: 0 }).count;
    stats($("stats-proposals"), [
      { id: "stat-proposed", value: fmt(count("proposed")), label: "awaiting an answer" },
      { id: "stat-accepted", value: fmt(count("accepted")), label: "accepted" },
      { id: "stat-acceptance", value: pct(p.acceptance_rate), label: "acceptance rate (all time)" },
    ]);
    const tones = { proposed: "blue-light", accepted: "green", declined: "red", expired: "grey" };
    columnChart(
      $("chart-status"),
      p.by_status.map((s) => s.status),
      [{ name: "matches", cls: "blue", values: p.by_status.map((s) => s.count) }],
      { label: "matches by status", empty: "No proposals yet.", height: 170 },
    );
    // Colour each status's bar by what it means.
    $("chart-status").querySelectorAll("rect.bar").forEach((rect, i) => {
      rect.setAttribute("class", `bar ${tones[p.by_status[i].status] || "blue"}`);
    });
    $("caption-acceptance").textContent =
      `Per ${p.bucket} (UTC): proposals made, decisions taken, and the acceptance rate of those decisions (line)`;
    acceptanceChart($("chart-acceptance"), p.over_time, p.bucket);
  }

  function drawSkills(s) {
    $("caption-skills").textContent =
      `Left: sum of waiting mentees' gaps (target minus current level; red where no strong mentor has a free slot). ` +
      `Right: free slots of accepting mentors at level ${s.strong_level} or above (strong mentors in brackets).`;
    butterflyChart(
      $("chart-skills"),
      s.skills.map((k) => ({
        label: k.name,
        left: k.demand_waiting,
        right: k.free_slots_strong,
        rightText: `${fmt(k.free_slots_strong)} (${fmt(k.mentors_strong)})`,
      })),
      "gap points of waiting mentees",
      "free slots of strong mentors",
    );
  }

  function unavailable(container, text) {
    container.appendChild(el("p", { class: "unavailable" }, `Unavailable: ${text}`));
  }

  function drawNotifications(n) {
    const box = $("stats-notifications");
    if (n.status !== "ok") {
      clear(box);
      unavailable(box, n.detail || "the notification service did not answer");
      emptyNote($("chart-mail"), "No numbers from the notification service.");
      return;
    }
    stats(box, [
      { id: "stat-mail-sent", value: fmt(n.sent), label: "mails sent" },
      { id: "stat-mail-retrying", value: fmt(n.retrying), label: "failed, retried", tone: n.retrying ? "warn" : "" },
      { id: "stat-mail-given-up", value: fmt(n.given_up), label: "given up", tone: n.given_up ? "bad" : "" },
    ]);
    columnChart(
      $("chart-mail"),
      n.by_template.map((t) => t.template),
      [
        { name: "sent", cls: "green", values: n.by_template.map((t) => t.sent) },
        { name: "retrying", cls: "orange", values: n.by_template.map((t) => t.retrying) },
        { name: "given up", cls: "red", values: n.by_template.map((t) => t.given_up) },
      ],
      { label: "mails per template", empty: "No mail since the notification service started.", rotate: true, height: 230 },
    );
  }

  function drawPipeline(services) {
    const box = clear($("stats-pipeline"));
    const items = [];
    for (const s of services) {
      if (s.status !== "ok") {
        unavailable(box, `${s.service}: ${s.detail || "no answer"}`);
        continue;
      }
      const lag = s.consumer_lag.reduce((sum, c) => sum + c.lag, 0);
      items.push({
        id: `stat-pipeline-${s.service}`,
        value: `${fmt(s.outbox_pending)} / ${fmt(lag)}`,
        label: `${s.service}: outbox / lag`,
        tone: s.dead_letters ? "bad" : s.outbox_pending + lag > 0 ? "warn" : "",
      });
      if (s.dead_letters) {
        items.push({ id: `stat-dlq-${s.service}`, value: fmt(s.dead_letters), label: `${s.service}: dead letters`, tone: "bad" });
      }
    }
    const statBox = el("div", { class: "stats" });
    stats(statBox, items);
    box.appendChild(statBox);
    const ok = services.filter((s) => s.status === "ok");
    const total = ok.reduce((sum, s) => sum + s.outbox_pending + s.consumer_lag.reduce((a, c) => a + c.lag, 0), 0);
    if (ok.length && total === 0) {
      emptyNote($("chart-lag"), "Nothing waiting: every event is published and consumed.");
    } else {
      columnChart(
        $("chart-lag"),
        ok.map((s) => s.service),
        [
          { name: "outbox", cls: "orange", values: ok.map((s) => s.outbox_pending) },
          { name: "consumer lag", cls: "red", values: ok.map((s) => s.consumer_lag.reduce((a, c) => a + c.lag, 0)) },
        ],
        { label: "outbox backlog and consumer lag per service", empty: "No service answered." },
      );
    }
    const body = clear($("table-lag").querySelector("tbody"));
    for (const s of ok) {
      for (const c of s.consumer_lag) {
        const row = el("tr");
        row.appendChild(el("td", {}, s.service));
        row.appendChild(el("td", {}, c.consumer));
        row.appendChild(el("td", {}, c.topic));
        row.appendChild(el("td", { class: "num" }, fmt(c.lag)));
        body.appendChild(row);
      }
    }
    if (!body.firstChild) {
      const row = el("tr");
      row.appendChild(el("td", { colspan: "4", class: "empty" }, "No partitions assigned yet."));
      body.appendChild(row);
    }
  }

  function draw(data) {
    drawMentees(data.mentees);
    drawMentors(data.mentors);
    drawProposals(data.proposals);
    drawSkills(data.skills);
    drawNotifications(data.notifications);
    drawPipeline(data.pipeline);
  }

  // --- loading --------------------------------------------------------------------------------

  function setStatus(text, problem) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("problem", Boolean(problem));
  }

  function showLogin(message) {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    $("panels").hidden = true;
    $("forget").hidden = true;
    $("login").hidden = false;
    const error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    setStatus(message ? "The operator key was refused." : "Enter the operator key.", Boolean(message));
    $("key").focus();
  }

  async function refresh() {
    timer = null;
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (!key) {
      showLogin("");
      return;
    }
    let response;
    try {
      response = await fetch("/v1/console", {
        headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
        cache: "no-store",
      });
    } catch (error) {
      setStatus(`The console does not answer (${error.message}); retrying.`, true);
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_STORAGE);
      let detail = "";
      try {
        detail = (await response.json()).message || "";
      } catch (error) {
        detail = "";
      }
      showLogin(`That is not the operator key (HTTP ${response.status}). ${detail}`.trim());
      return;
    }
    if (!response.ok) {
      let detail = "";
      try {
        detail = (await response.json()).message || "";
      } catch (error) {
        detail = "";
      }
      setStatus(`The numbers could not be read (HTTP ${response.status}). ${detail} Retrying.`, true);
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    lastData = await response.json();
    $("login").hidden = true;
    $("panels").hidden = false;
    $("forget").hidden = false;
    draw(lastData);
    const when = new Date(lastData.generated_at).toLocaleTimeString("en-GB");
    setStatus(`Updated ${when}`, false);
    document.body.dataset.loaded = "true";
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function start() {
    $("login").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORAGE, key);
      $("key").value = "";
      $("login-error").hidden = true;
      setStatus("Loading…", false);
      refresh();
    });
    $("forget").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      showLogin("");
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
