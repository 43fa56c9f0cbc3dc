// The kernel-free explorer's drawing (sparse_attention_lab/views/static_explorer.py inlines it
// into each explorer's HTML): one function applied to the explorer's root element. Panels
// share the x axis; while a slider moves, that axis stays fixed, spanning every frame the slider
// reaches (so that plateau lengths compare by eye); y ranges fit the frame; markers are dashed
// vertical lines in every panel. Plain JavaScript, no library, no network.
function (root) {
  const NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(root.querySelector("script.sal-explorer-data").textContent);
  const svg = root.querySelector("svg.sal-explorer-plot");
  const readout = root.querySelector(".sal-explorer-readout");
  const sliders = Array.from(root.querySelectorAll("input[type=range]"));
  const outputs = Array.from(root.querySelectorAll("output"));
  const names = Object.keys(data.params);
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const MARK = ["#000000", "#d62728", "#7f7f7f", "#17becf"];
  const W = 330, H = 260, L = 64, R = 12, TOP = 24, BOT = 46;
  const fmt = v => {
    const a = Math.abs(v);
    if (Number.isInteger(v) && a < 1e5) return String(v);
    return (a !== 0 && (a >= 1e4 || a < 1e-2)) ? v.toExponential(0).replace("e+", "e") : String(+v.toPrecision(3));
  };
  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  }
  function ticks(lo, hi, log) {
    if (log) {
      const out = [], every = Math.max(1, Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 7));
      for (let k = Math.ceil(lo); k <= Math.floor(hi); k += every) out.push(k);
      if (out.length < 2) for (const m of [2, 5]) for (let k = Math.floor(lo); k <= hi; k++) {
        const v = k + Math.log10(m); if (v >= lo && v <= hi) out.push(v);
      }
      return out.sort((a, b) => a - b);
    }
    const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(v);
    return out;
  }
  function range(values, log) {
    const v = values.filter(z => z !== null && (!log || z > 0)).map(z => log ? Math.log10(z) : z);
    let lo = Math.min(...v), hi = Math.max(...v);
    if (!log) { lo = Math.min(lo, 0); }
    if (!(hi > lo)) { hi = lo + 1; }
    const pad = log ? 0 : 0.05 * (hi - lo);
    return [lo - (log ? 0 : pad), hi + pad];
  }
  let held = null;  // the slider moved last: the x axis spans the frames along it
  function frameAt(idx) {
    let flat = 0;
    names.forEach((n, k) => { flat = flat * data.params[n].length + idx[k]; });
    return data.frames[flat];
  }
  function xRange(idx) {
    if (held === null) return range(frameAt(idx).x, data.logx);
    const xs = data.params[names[held]].map((_, v) => {
      const along = idx.slice();
      along[held] = v;
      return frameAt(along).x;
    });
    return range([].concat(...xs), data.logx);
  }
  function draw() {
    const idx = sliders.map(s => +s.value);
    const f = frameAt(idx);
    outputs.forEach((o, k) => { o.textContent = fmt(data.params[names[k]][idx[k]]); });
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const xs = f.x.map(v => data.logx ? (v > 0 ? Math.log10(v) : null) : v);
    const [x0, x1] = xRange(idx);
    data.panels.forEach((p, k) => {
      const ox = k * W;
      const all = [].concat(...p.curves.map(c => f.y[c]));
      const [y0, y1] = range(all, p.logy);
      const X = v => ox + L + (v - x0) / (x1 - x0) * (W - L - R);
      const Y = v => TOP + (1 - (v - y0) / (y1 - y0)) * (H - TOP - BOT);
      el("rect", {x: ox + L, y: TOP, width: W - L - R, height: H - TOP - BOT, fill: "none", stroke: "#444"});
      for (const t of ticks(x0, x1, data.logx)) {
        el("line", {x1: X(t), x2: X(t), y1: H - BOT, y2: H - BOT + 4, stroke: "#444"});
        el("text", {x: X(t), y: H - BOT + 16, "text-anchor": "middle", "font-size": 13}, data.logx ? fmt(Math.pow(10, t)) : fmt(t));
      }
      for (const t of ticks(y0, y1, p.logy)) {
        el("line", {x1: ox + L - 4, x2: ox + L, y1: Y(t), y2: Y(t), stroke: "#444"});
        el("text", {x: ox + L - 6, y: Y(t) + 4, "text-anchor": "end", "font-size": 13}, p.logy ? fmt(Math.pow(10, t)) : fmt(t));
      }
      el("text", {x: ox + L + (W - L - R) / 2, y: H - 6, "text-anchor": "middle"}, data.xlabel);
      el("text", {x: ox + 14, y: TOP + (H - TOP - BOT) / 2, "text-anchor": "middle",
                  transform: "rotate(-90 " + (ox + 14) + " " + (TOP + (H - TOP - BOT) / 2) + ")"}, p.ylabel);
      el("text", {x: ox + L + (W - L - R) / 2, y: 15, "text-anchor": "middle", "font-weight": "bold"}, p.title);
      p.curves.forEach((c, j) => {
        const pts = [];
        f.y[c].forEach((v, i) => {
          const yv = p.logy ? (v > 0 ? Math.log10(v) : null) : v;
          if (xs[i] !== null && yv !== null) pts.push(X(xs[i]).toFixed(1) + "," + Y(yv).toFixed(1));
        });
        el("polyline", {points: pts.join(" "), fill: "none", stroke: COLORS[j % COLORS.length], "stroke-width": 1.8});
        el("text", {x: ox + W - R - 4, y: TOP + 16 + 16 * j, "text-anchor": "end", fill: COLORS[j % COLORS.length], "font-size": 13,
                  stroke: "white", "stroke-width": 3, "paint-order": "stroke"}, c);
      });
      Object.keys(f.m).forEach((m, j) => {
        const v = f.m[m];
        if (v === null || (data.logx && v <= 0)) return;
        const xv = data.logx ? Math.log10(v) : v;
        if (xv < x0 || xv > x1) return;
        el("line", {x1: X(xv), x2: X(xv), y1: TOP, y2: H - BOT, stroke: MARK[j % MARK.length], "stroke-dasharray": "5,3"});
      });
    });
    readout.innerHTML = "";
    Object.keys(f.m).forEach((m, j) => {
      const s = document.createElement("span");
      s.style.color = MARK[j % MARK.length]; s.style.marginRight = "1.5em";
      s.textContent = "- - " + m + ": " + (f.m[m] === null ? "not reached" : fmt(f.m[m]));
      readout.appendChild(s);
    });
  }
  sliders.forEach((s, k) => s.addEventListener("input", () => { held = k; draw(); }));
  draw();
}
