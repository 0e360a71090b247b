/* siting workbench page: plain JS over the JSON API of siting.app.server (no build step, no CDN).
 *
 * Names from the input files are untrusted: they are only ever put in the page as text
 * (textContent, text nodes in Leaflet tooltips), never as HTML.
 *
 * Scripting hook (see siting/app/server.py): window.siting.add(lon, lat, {name, type}), .move(id, lon, lat),
 * .close(id), .reopen(id), .undo(), .redo(), .configure({mode, minutes, speed_kmh}) return Promises resolved
 * with the new state once map and panel show it; .save(name) resolves with the scenario file written
 * (save_dir/NAME.yaml); window.siting.state() is the last state; .ready resolves
 * after the first drawing; .map is the Leaflet map.
 */
(function () {
  "use strict";

  var TOKEN = new URLSearchParams(window.location.search).get("token") || "";
  var BANDS = ["#08519c", "#3182bd", "#9ecae1"];  // ≤ 1/3, ≤ 2/3, ≤ the threshold
  var BEYOND = "#c51b7d", UNREACHED = "#636363", OUTSIDE = "#bdbdbd";
  var TYPE_COLOR = {center: "#1f3a93", subcenter: "#6a3d9a", station: "#1f78b4", village_clinic: "#b15928",
                    kiosk: "#ff7f00", hospital: "#e31a1c", other: "#555555"};
  var TYPE_LABEL = {center: "社区卫生服务中心 centre", subcenter: "分中心 sub-centre", station: "社区卫生服务站 station",
                    village_clinic: "村卫生室 village clinic", kiosk: "健康驿站 kiosk", hospital: "医院 hospital",
                    other: "其他 other"};
  var CLASSES = [[-1e9, -0.20, "#b2182b"], [-0.20, -0.10, "#ef8a62"], [-0.10, -1e-9, "#fddbc7"], [-1e-9, 1e9, "#5aae61"]];
  var PARTIAL = 0.9;

  function $(name) { return document.querySelector('[data-siting="' + name + '"]'); }
  function pct(x) { return x === null || x === undefined ? "—" : (100 * x).toFixed(1) + " %"; }
  function num(x) { return x === null || x === undefined ? "—" : Math.round(x).toLocaleString("en-US"); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function lines(title, rest) {  // a tooltip as DOM text: a bold first line, then plain lines
    var box = el("div");
    box.appendChild(el("div", title, "tip-title"));
    rest.forEach(function (t) { box.appendChild(el("div", t)); });
    return box;
  }

  // ------------------------------------------------------------------ the API
  function api(method, path, body) {
    var headers = {"Accept": "application/json"};
    if (TOKEN) { headers["X-Siting-Token"] = TOKEN; }
    var init = {method: method, headers: headers, credentials: "same-origin"};
    if (method === "POST") {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {error: "HTTP " + r.status}; }).then(function (data) {
        if (!r.ok) { throw new Error(data && data.error ? data.error : "HTTP " + r.status); }
        return data;
      });
    });
  }

  // ------------------------------------------------------------------ the map
  var map = L.map("map", {zoomControl: true, zoomSnap: 0.25, attributionControl: true});
  map.attributionControl.setPrefix("Leaflet");
  var canvas = L.canvas({padding: 0.2});  // 街道 outlines, service area and homes: one canvas, hit-tested in order
  map.createPane("facilities").style.zIndex = 620;
  var facilitySvg = L.svg({pane: "facilities"});
  var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                          {maxZoom: 19, attribution: "© OpenStreetMap contributors"});
  var subsLayer = L.layerGroup().addTo(map);
  var areaLayer = L.layerGroup().addTo(map);
  var homesLayer = L.layerGroup().addTo(map);
  var facilityLayer = L.layerGroup().addTo(map);
  var last = null, minutes = 15, fitted = false, counted = {};

  function band(p) {
    var w = p.walk_min;
    if (p.status === "outside_network_area") { return OUTSIDE; }
    if (w === null || w === undefined) { return UNREACHED; }
    if (w <= minutes / 3 + 1e-9) { return BANDS[0]; }
    if (w <= 2 * minutes / 3 + 1e-9) { return BANDS[1]; }
    return w <= minutes + 1e-9 ? BANDS[2] : BEYOND;
  }

  function drawHomes(fc, cellM) {
    homesLayer.clearLayers();
    var top = 1;
    fc.features.forEach(function (f) { top = Math.max(top, f.properties.population || 0); });
    fc.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates, color = band(p);
      var m = L.circleMarker([c[1], c[0]], {
        renderer: canvas, radius: 2 + 7 * Math.sqrt(Math.max(p.population || 0, 0) / top),
        color: color === OUTSIDE ? "#999" : "#fff", weight: 0.6, fillColor: color,
        fillOpacity: color === OUTSIDE ? 0.35 : 0.85});
      m.bindTooltip(function () {
        var walk = p.walk_min === null ? "不可达 unreachable" : "步行 walk " + p.walk_min.toFixed(1) + " min";
        var rest = [num(p.population) + " residents" + (cellM ? " · " + p.n + " points in a " + cellM + " m cell" : "")];
        if (p.status === "outside_network_area") { rest.push("路网范围外 outside the street extract (not rated)"); }
        return lines(walk, rest);
      }, {sticky: true});
      homesLayer.addLayer(m);
    });
  }

  function subStyle(p) {
    var analysed = p.analysed_share === null ? 0 : p.analysed_share;
    var fill = "#cccccc";
    if (p.rate !== null && p.target !== null) {
      var d = p.rate - p.target;
      CLASSES.forEach(function (k) { if (k[0] <= d && d < k[1]) { fill = k[2]; } });
    }
    return {color: analysed > 0 ? "#444" : "#999", weight: analysed > 0 ? 1.5 : 1,
            dashArray: analysed < PARTIAL ? "6 5" : null, fillColor: fill,
            fillOpacity: analysed > 0 ? 0.28 : 0.05};
  }

  function drawSubdistricts(fc) {
    subsLayer.clearLayers();
    if (!fc) { return; }
    L.geoJSON(fc, {
      renderer: canvas,
      style: function (f) { return subStyle(f.properties); },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(function () {
          return lines(p.name + " (" + p.district + ")", [
            "覆盖率 rate " + pct(p.rate) + " · 目标 target " + pct(p.target),
            "缺口 gap " + num(p.gap) + " residents",
            "已分析 analysed " + pct(p.analysed_share) + " of its residents" +
              ((p.analysed_share === null ? 0 : p.analysed_share) < PARTIAL ? " (partial 部分)" : "")]);
        }, {sticky: true});
      }
    }).eachLayer(function (l) { subsLayer.addLayer(l); });
  }

  function facilityTip(f) {
    var rest = [(TYPE_LABEL[f.type] || f.type) + (f.added ? " · 新增 added" : ""),
                (f.open ? "开放 open" : "关闭 closed") + " · id " + f.id];
    if (f.open && !counted[f.id]) { rest.push("不计入 not counted: off the street extract, or a type not counted"); }
    rest.push(f.open ? "click: close 点击关闭" : "click: reopen 点击重开");
    return lines(f.name, rest);
  }

  function drawFacilities(state) {
    facilityLayer.clearLayers();
    state.facilities.forEach(function (f) {
      var m;
      if (f.added) {
        m = L.marker([f.lat, f.lon], {
          draggable: true, keyboard: false, pane: "facilities",
          icon: L.divIcon({className: "siting-added" + (f.open ? "" : " closed"), iconSize: [16, 16]})});
        m.on("dragend", function () {
          var ll = m.getLatLng();
          quiet(hook.move(f.id, ll.lng, ll.lat));
        });
      } else {
        var counts = f.open && counted[f.id];
        m = L.circleMarker([f.lat, f.lon], {
          renderer: facilitySvg, pane: "facilities", bubblingMouseEvents: false,
          radius: f.type === "center" ? 8 : 6, weight: 2, color: f.open ? (counts ? "#fff" : TYPE_COLOR[f.type] || "#555") : "#888",
          dashArray: f.open && !counts ? "3 2" : null,
          fillColor: f.open ? (TYPE_COLOR[f.type] || "#555") : "#fff", fillOpacity: counts ? 1 : f.open ? 0.35 : 0.2});
      }
      m.on("click", function (e) {
        if (e.originalEvent) { L.DomEvent.stopPropagation(e.originalEvent); }
        quiet(f.open ? hook.close(f.id) : hook.reopen(f.id));
      });
      m.bindTooltip(function () { return facilityTip(f); });
      facilityLayer.addLayer(m);
    });
  }

  function fetchArea() {
    return $("service-area").checked ? api("GET", "/api/service_area") : Promise.resolve(null);
  }

  function drawArea(fc) {
    areaLayer.clearLayers();
    if (!fc) { return; }
    L.geoJSON(fc, {renderer: canvas, interactive: false,
                   style: {color: "#1a9850", weight: 1, fillColor: "#1a9850", fillOpacity: 0.12}})
      .eachLayer(function (l) { areaLayer.addLayer(l); });
  }

  // ------------------------------------------------------------------ the panel
  function legend() {
    var box = $("legend");
    box.textContent = "";
    var m = minutes, third = function (k) { return +(k * m / 3).toFixed(1); };
    var rows = [[BANDS[0], "≤ " + third(1) + " min"], [BANDS[1], "≤ " + third(2) + " min"],
                [BANDS[2], "≤ " + third(3) + " min"], [BEYOND, "> " + third(3) + " min 超时"],
                [UNREACHED, "不可达 unreachable"], [OUTSIDE, "路网范围外 outside the streets (not rated)"]];
    box.appendChild(el("div", "居民步行时间 homes by walking time", "small"));
    rows.forEach(function (r) {
      var d = el("div"), s = el("span", null, "swatch");
      s.style.background = r[0];
      d.appendChild(s);
      d.appendChild(document.createTextNode(r[1]));
      box.appendChild(d);
    });
    var fac = [["swatch", TYPE_COLOR.center, "开放设施 open facility"],
               ["swatch faint", TYPE_COLOR.center, "不计入 open, not counted (off the streets)"],
               ["swatch", "#fff", "关闭 closed"],
               ["swatch square", "#f16913", "新增服务站 added station (drag to move)"],
               ["swatch line", null, "街道 (fully analysed)"], ["swatch line dashed", null, "街道 partly analysed (< 90 %)"]];
    fac.forEach(function (r) {
      var d = el("div"), s = el("span", null, r[0]);
      if (r[1]) { s.style.background = r[1]; }
      d.appendChild(s);
      d.appendChild(document.createTextNode(r[2]));
      box.appendChild(d);
    });
  }

  function panel(state) {
    minutes = state.minutes;
    $("rate").textContent = pct(state.coverage_rate);
    $("threshold").textContent = num(state.minutes) + " min (" + state.mode + ", " + state.speed_kmh + " km/h)";
    $("target").textContent = pct(state.target);
    $("gap").textContent = num(state.gap_residents);
    $("unit").textContent = state.unit;
    $("meter").style.width = Math.min(100, 100 * (state.coverage_rate || 0)) + "%";
    $("meter-target").style.left = Math.min(100, 100 * (state.target || 0)) + "%";
    $("meter-target").style.display = state.target === null ? "none" : "";
    $("covered").textContent = num(state.population_covered) + " of " + num(state.population_total) + " " +
      state.unit + " covered 已覆盖";
    var open = state.facilities.filter(function (f) { return f.open; }).length;
    var added = state.facilities.filter(function (f) { return f.added && f.open; }).length;
    $("facilities").textContent = open + " open of " + state.facilities.length + " facilities 设施" +
      (added ? " · " + added + " added 新增" : "");
    $("mode").value = state.mode;
    if (document.activeElement !== $("minutes")) { $("minutes").value = state.minutes; }
    if (document.activeElement !== $("speed")) { $("speed").value = state.speed_kmh; }
    $("undo").disabled = !state.can_undo;
    $("redo").disabled = !state.can_redo;
    $("edits").textContent = state.edits ? state.edits + " edit(s)" : "";
    var body = $("subdistricts");
    body.textContent = "";
    state.subdistricts.forEach(function (r) {
      var tr = el("tr");
      if (r.analysed_share < PARTIAL) { tr.className = "partial"; }
      else if (r.coverage_rate !== null && r.target !== null && r.coverage_rate >= r.target) { tr.className = "meets"; }
      [r.subdistrict, pct(r.coverage_rate), num(r.gap_residents), pct(r.analysed_share)].forEach(function (t) {
        tr.appendChild(el("td", t));
      });
      body.appendChild(tr);
    });
    legend();
  }

  function notes(list) {
    var ul = $("notes");
    ul.textContent = "";
    (list || []).forEach(function (n) { ul.appendChild(el("li", n)); });
  }

  function message(text) { $("message").textContent = text || ""; }

  // ------------------------------------------------------------------ drawing a state
  function nextFrame() { return new Promise(function (r) { window.requestAnimationFrame(function () { r(); }); }); }

  function show(state, parts) {
    return Promise.all([api("GET", "/api/layers?parts=" + parts), fetchArea()]).then(function (got) {
      var layers = got[0];
      last = state;
      counted = {};
      layers.counted.forEach(function (id) { counted[id] = true; });
      panel(state);
      // canvas order: 街道 below, then the service area, then the homes on top (drawn and hit-tested last)
      if (layers.subdistricts !== undefined) { drawSubdistricts(layers.subdistricts); }
      drawArea(got[1]);
      drawHomes(layers.homes, layers.cell_m);
      drawFacilities(state);
      notes(layers.notes);
      if (!fitted) {
        fitted = true;
        var bounds = fitBounds(layers);
        if (bounds && bounds.isValid()) { map.fitBounds(bounds, {padding: [10, 10]}); }
        else { map.setView([31.2, 121.45], 12); }
      }
      return nextFrame();
    }).then(function () { return state; });
  }

  function fitBounds(layers) {  // the analysed 街道 (else all of them), else the homes
    var subs = layers.subdistricts ? layers.subdistricts.features : [];
    var analysed = subs.filter(function (f) { return f.properties.analysed_share > 0; });
    if (analysed.length || subs.length) {
      return L.geoJSON({type: "FeatureCollection", features: analysed.length ? analysed : subs}).getBounds();
    }
    return homesLayer.getLayers().length ? L.featureGroup(homesLayer.getLayers()).getBounds() : null;
  }

  // edits run one after another, in the order asked
  var queue = Promise.resolve();
  function enqueue(work) {
    var run = queue.then(work, work);
    queue = run.catch(function () { return null; });
    return run;
  }

  function edit(name, body) {
    return enqueue(function () {
      document.body.classList.add("busy");
      return api("POST", "/api/" + name, body).then(function (out) {
        message("");
        // 街道 rates change with every edit: their outlines are cached server-side, cheap to resend
        return show(name === "add" ? out.state : out, "homes,subdistricts");
      }).catch(function (err) {
        message(err.message);
        throw err;
      }).finally(function () { document.body.classList.remove("busy"); });
    });
  }

  function quiet(promise) { promise.catch(function () { return null; }); }  // UI clicks: shown in the panel

  var hook = {
    add: function (lon, lat, opts) {
      var o = opts || {}, body = {lon: lon, lat: lat};
      if (o.name !== undefined) { body.name = o.name; }
      if (o.type !== undefined) { body.type = o.type; }
      return edit("add", body);
    },
    move: function (id, lon, lat) { return edit("move", {id: String(id), lon: lon, lat: lat}); },
    close: function (id) { return edit("close", {id: String(id)}); },
    reopen: function (id) { return edit("reopen", {id: String(id)}); },
    undo: function () { return edit("undo", {}); },
    redo: function () { return edit("redo", {}); },
    configure: function (opts) { return edit("configure", opts || {}); },
    save: function (name) {
      return enqueue(function () {
        return api("POST", "/api/save", {name: name || "workbench"}).then(function (out) {
          message("");
          $("saved").textContent = "→ " + out.path;
          return out.path;
        }).catch(function (err) { message(err.message); throw err; });
      });
    },
    state: function () { return last; },
    map: map
  };
  window.siting = hook;

  // ------------------------------------------------------------------ controls
  map.on("click", function (e) { quiet(hook.add(e.latlng.lng, e.latlng.lat)); });
  $("undo").addEventListener("click", function () { quiet(hook.undo()); });
  $("redo").addEventListener("click", function () { quiet(hook.redo()); });
  $("mode").addEventListener("change", function () { quiet(hook.configure({mode: $("mode").value})); });
  $("minutes").addEventListener("change", function () {
    var v = parseFloat($("minutes").value);
    if (isFinite(v)) { quiet(hook.configure({minutes: v})); }
  });
  $("speed").addEventListener("change", function () {
    var v = parseFloat($("speed").value);
    if (isFinite(v)) { quiet(hook.configure({speed_kmh: v})); }
  });
  $("save").addEventListener("click", function () { quiet(hook.save($("save-name").value)); });
  $("tiles").addEventListener("change", function () {
    if ($("tiles").checked) { tiles.addTo(map); } else { map.removeLayer(tiles); }
  });
  $("service-area").addEventListener("change", function () {
    quiet(enqueue(function () { return show(last, "homes"); }).catch(function (err) {
      message(err.message);
      throw err;
    }));
  });

  hook.ready = enqueue(function () {
    return api("GET", "/api/state").then(function (state) {
      return show(state, "homes,subdistricts,facilities");
    });
  }).catch(function (err) {
    message("cannot load the workbench: " + err.message);
    throw err;
  });
  quiet(hook.ready);
}());
