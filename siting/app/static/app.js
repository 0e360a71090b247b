/* siting workbench page: plain JS over the JSON API of siting.app.server (no build step, no CDN).
 *
 * Names from the input files are untrusted: they are only ever put in the page as text
 * (textContent, text nodes in Leaflet tooltips), never as HTML.
 *
 * Scripting hook (see siting/app/server.py): window.siting.add(lon, lat, {name, type}), .move(id, lon, lat),
 * .close(id), .reopen(id), .undo(), .redo(), .configure({mode, minutes, speed_kmh}) and .scenario(name) return
 * Promises resolved with the new state once map and panel show it (an added or moved station's catchment
 * drawn too); .save(name) resolves with the scenario file written (save_dir/NAME.yaml); .suggest({k} or
 * {target}) resolves with the finished suggestion's status (sites drawn), .cancelSuggest() and .accept() end
 * it; .catchment(id) draws one facility's catchment; .notes() fetches the result's notes (asked lazily after
 * edits: they need the whole result); .export() downloads the bundle zip; window.siting.state() is the last
 * state; .ready resolves after the first drawing; .map is the Leaflet map and .layers its layer groups.
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
  var canvas = L.canvas({padding: 0.2});  // 街道 outlines and homes: one canvas, hit-tested in order
  map.createPane("areas").style.zIndex = 350;  // below that canvas: the service area and a catchment (not interactive)
  var areaCanvas = L.canvas({padding: 0.2, pane: "areas"});
  map.createPane("facilities").style.zIndex = 620;
  var facilitySvg = L.svg({pane: "facilities"});
  var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                          {maxZoom: 19, attribution: "© OpenStreetMap contributors"});
  var subsLayer = L.layerGroup().addTo(map);
  var areaLayer = L.layerGroup().addTo(map);
  var catchLayer = L.layerGroup().addTo(map);
  var homesLayer = L.layerGroup().addTo(map);
  var facilityLayer = L.layerGroup().addTo(map);
  var suggestLayer = L.layerGroup().addTo(map);
  var last = null, minutes = 15, fitted = false, counted = {}, selected = null, homeMarkers = [], homesCell = null;
  var drawn = 0, notesTimer = null, suggesting = false;

  function band(p) {
    var w = p.walk_min;
    if (p.status === "outside_network_area") { return OUTSIDE; }
    if (w === null || w === undefined) { return UNREACHED; }
    if (w <= minutes / 3 + 1e-9) { return BANDS[0]; }
    if (w <= 2 * minutes / 3 + 1e-9) { return BANDS[1]; }
    return w <= minutes + 1e-9 ? BANDS[2] : BEYOND;
  }

  function restyleHomes(walk) {  // only walk_min and covered changed (an edit keeping the settings)
    homeMarkers.forEach(function (m, i) {
      var p = L.extend({}, m.sitingProps, {walk_min: walk.walk_min[i], covered: walk.covered[i]});
      var color = band(p);
      m.sitingProps = p;
      if (m.options.fillColor !== color) { m.setStyle(homeStyle(color)); }
    });
  }

  function homeStyle(color) {
    return {color: color === OUTSIDE ? "#999" : "#fff", fillColor: color, fillOpacity: color === OUTSIDE ? 0.35 : 0.85};
  }

  // the homes are the same rows after every edit (only walk_min / covered change): markers are restyled in
  // place, and rebuilt only when their number or cell size changes (or a scenario is switched)
  function drawHomes(fc, cellM, rebuild) {
    var feats = fc.features;
    if (!rebuild && homeMarkers.length === feats.length && homesCell === cellM) {
      feats.forEach(function (f, i) {
        var m = homeMarkers[i], color = band(f.properties);
        m.sitingProps = f.properties;
        if (m.options.fillColor !== color) { m.setStyle(homeStyle(color)); }
      });
      return;
    }
    homesLayer.clearLayers();
    homeMarkers = [];
    homesCell = cellM;
    var top = 1;
    feats.forEach(function (f) { top = Math.max(top, f.properties.population || 0); });
    feats.forEach(function (f) {
      var c = f.geometry.coordinates, color = band(f.properties);
      var m = L.circleMarker([c[1], c[0]], L.extend({
        renderer: canvas, radius: 2 + 7 * Math.sqrt(Math.max(f.properties.population || 0, 0) / top),
        weight: 0.6}, homeStyle(color)));
      m.sitingProps = f.properties;
      m.bindTooltip(function () {
        var p = m.sitingProps;
        var walk = p.walk_min === null ? "不可达 unreachable" : "步行 walk " + p.walk_min.toFixed(1) + " min";
        var rest = [num(p.population) + " residents" + (cellM ? " · " + p.n + " points in a " + cellM + " m cell" : "")];
        if (p.status === "outside_network_area") { rest.push("路网范围外 outside the street extract (not rated)"); }
        return lines(walk, rest);
      }, {sticky: true});
      homesLayer.addLayer(m);
      homeMarkers.push(m);
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

  // the 街道 outlines never change under edits: restyled in place (so they stay below the homes on the
  // canvas); rebuilt only when their list changes. Returns whether they were rebuilt.
  var subLayers = [];
  function drawSubdistricts(fc, rebuild) {
    var feats = fc ? fc.features : [];
    var same = !rebuild && subLayers.length === feats.length && feats.every(function (f, i) {
      return subLayers[i].sitingProps.name === f.properties.name && subLayers[i].sitingProps.district === f.properties.district;
    });
    if (same) {
      feats.forEach(function (f, i) {
        subLayers[i].sitingProps = f.properties;
        subLayers[i].setStyle(subStyle(f.properties));
      });
      return false;
    }
    subsLayer.clearLayers();
    subLayers = [];
    if (!fc) { return true; }
    L.geoJSON(fc, {
      renderer: canvas,
      style: function (f) { return subStyle(f.properties); },
      onEachFeature: function (f, layer) {
        layer.sitingProps = f.properties;
        layer.bindTooltip(function () {
          var p = layer.sitingProps;
          return lines(p.name + " (" + p.district + ")", [
            "覆盖率 rate " + pct(p.rate) + " · 目标 target " + pct(p.target),
            "缺口 gap " + num(p.gap) + " residents",
            "已分析 analysed " + pct(p.analysed_share) + " of its residents" +
              ((p.analysed_share === null ? 0 : p.analysed_share) < PARTIAL ? " (partial 部分)" : "")]);
        }, {sticky: true});
      }
    }).eachLayer(function (l) { subsLayer.addLayer(l); subLayers.push(l); });
    return true;
  }

  function facilityTip(f) {
    var rest = [(TYPE_LABEL[f.type] || f.type) + (f.added ? " · 新增 added" : ""),
                (f.open ? "开放 open" : "关闭 closed") + " · id " + f.id];
    if (f.open && !counted[f.id]) { rest.push("不计入 not counted: off the street extract, or a type not counted"); }
    rest.push(f.open ? "click: close 点击关闭" : "click: reopen 点击重开");
    rest.push("right-click: its catchment 右键: 服务范围");
    return lines(f.name, rest);
  }

  function facilityStyle(f) {  // an existing facility: filled when it counts, dashed when open but not counted
    var counts = f.open && counted[f.id];
    return {color: f.open ? (counts ? "#fff" : TYPE_COLOR[f.type] || "#555") : "#888", dashArray: f.open && !counts ? "3 2" : null,
            fillColor: f.open ? (TYPE_COLOR[f.type] || "#555") : "#fff", fillOpacity: counts ? 1 : f.open ? 0.35 : 0.2};
  }

  // the counted facilities are known once the notes come: restyled in place (an added station being dragged
  // is never redrawn under the mouse)
  var circles = [];
  function restyleFacilities() {
    circles.forEach(function (c) { c[0].setStyle(facilityStyle(c[1])); });
  }

  function drawFacilities(state) {
    facilityLayer.clearLayers();
    circles = [];
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
        m = L.circleMarker([f.lat, f.lon], L.extend({
          renderer: facilitySvg, pane: "facilities", bubblingMouseEvents: false,
          radius: f.type === "center" ? 8 : 6, weight: 2}, facilityStyle(f)));
        circles.push([m, f]);
      }
      m.on("click", function (e) {
        if (e.originalEvent) { L.DomEvent.stopPropagation(e.originalEvent); }
        quiet(f.open ? hook.close(f.id) : hook.reopen(f.id));
      });
      m.on("contextmenu", function (e) {
        if (e.originalEvent) { L.DomEvent.preventDefault(e.originalEvent); L.DomEvent.stopPropagation(e.originalEvent); }
        quiet(hook.catchment(f.id));
      });
      m.bindTooltip(function () { return facilityTip(f); });
      facilityLayer.addLayer(m);
    });
  }

  function fetchArea() {
    return $("service-area").checked ? api("GET", "/api/service_area") : Promise.resolve(null);
  }

  // the selected facility's catchment, fetched again only when the facility moves or the settings change
  var catchKey = null;
  function catchmentKey(state) {
    var f = state && selected !== null ? state.facilities.find(function (x) { return x.id === selected; }) : null;
    return f ? [f.id, f.lon, f.lat, state.mode, state.minutes, state.speed_kmh].join("|") : null;
  }

  function fetchCatchment(state) {
    var key = catchmentKey(state || last);
    if (key === null) { catchKey = null; return Promise.resolve(null); }
    if (key === catchKey) { return Promise.resolve(undefined); }  // drawn already
    return api("GET", "/api/catchment?id=" + encodeURIComponent(selected)).then(function (fc) {
      catchKey = key;
      return fc;
    });
  }

  function drawCatchment(fc) {
    if (fc === undefined) { return; }  // unchanged
    catchLayer.clearLayers();
    if (!fc) { return; }
    L.geoJSON(fc, {renderer: areaCanvas, interactive: false,
                   style: {color: "#d94801", weight: 1.5, fillColor: "#fd8d3c", fillOpacity: 0.2}})
      .eachLayer(function (l) { catchLayer.addLayer(l); });
  }

  function drawArea(fc) {
    areaLayer.clearLayers();
    if (!fc) { return; }
    L.geoJSON(fc, {renderer: areaCanvas, interactive: false,
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
               ["swatch suggested", "#fff", "建议站点 suggested site (accept to add)"],
               ["swatch square catch", "#fdae6b", "所选站点的步行范围 the selected station's catchment"],
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

  function signed(x, digits) {
    if (x === null || x === undefined) { return "—"; }
    var v = digits ? +x.toFixed(digits) : Math.round(x);
    if (v === 0) { return "0"; }
    return (v > 0 ? "+" : "−") + (digits ? Math.abs(v).toFixed(digits) : Math.abs(v).toLocaleString("en-US"));
  }

  function drawCompare(c) {  // the delta table: the state this workbench started from against now
    var body = $("compare");
    body.textContent = "";
    if (!c) { return; }
    var d = c.district;
    var rows = [["区 district", d, "total"]].concat(c.rows.map(function (r) {
      return [r.subdistrict, r, Math.abs(r.added) < 0.5 && !r.delta_pp ? "same" : r.added >= 0 ? "up" : "down"];
    }));
    rows.forEach(function (row) {
      var tr = el("tr", null, row[2]), r = row[1];
      [row[0], pct(r.rate_start), pct(r.rate_now), signed(r.delta_pp, 1), signed(r.added)].forEach(function (t) {
        tr.appendChild(el("td", t));
      });
      body.appendChild(tr);
    });
    $("compare-note").textContent = "(open facilities " + d.facilities_start + " → " + d.facilities_now + ")";
  }

  var scenarios = null;
  function drawScenarios(sc) {
    scenarios = sc;
    $("scenario-box").hidden = !sc.file;
    if (!sc.file) { return; }
    var select = $("scenario");
    select.textContent = "";
    sc.scenarios.forEach(function (item) {
      var o = el("option", item.name + (item.name === "baseline" ? " 基线" : "") + (item.usable ? "" : " (not editable)"));
      o.value = item.name;
      o.disabled = !item.usable;
      if (item.why) { o.title = item.why; }
      select.appendChild(o);
    });
    select.value = sc.current;
    $("scenario-shown").textContent = sc.current;
    $("scenario-file").textContent = (sc.title ? sc.title + " · " : "") + sc.file.split(/[\\/]/).pop();
    $("scenario-file").title = sc.file;
  }

  function clearSites() { suggestLayer.clearLayers(); }  // their labels fade out (Leaflet: 200 ms)

  function clearSuggestion() {
    clearSites();
    $("suggest-sites").textContent = "";
    $("suggest-accept").hidden = true;
    $("suggest-cancel").hidden = true;
  }

  function drawSuggestion(st) {  // a suggestion's status: progress, or the chosen sites with their gains
    suggesting = st.running && !st.cancelled;
    $("suggest-cancel").hidden = !suggesting;
    $("suggest").disabled = $("suggest-target").disabled = st.running;
    var box = $("suggest-status");
    if (st.running) {
      box.textContent = st.cancelled ? "取消中 cancelling: the solver stops within its time limit (" + st.time_limit + " s)"
        : "计算中 solving… " + st.elapsed.toFixed(1) + " s (at most " + st.time_limit + " s + candidates)";
      return;
    }
    if (st.error) { box.textContent = "失败 failed: " + st.error; return; }
    if (st.cancelled || !st.sites) { box.textContent = st.cancelled ? "已取消 cancelled: the answer is discarded" : ""; return; }
    var s = st.summary;
    box.textContent = s.sites + " site(s) in " + st.elapsed.toFixed(1) + " s: " + pct(s.rate_before) + " → " +
      pct(s.rate_after) + " (" + signed(s.added) + " residents" + (s.feasible ? "" : "; target not reached: " + s.message) + ")";
    var list = $("suggest-sites");
    list.textContent = "";
    clearSites();
    st.sites.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      list.appendChild(el("li", p.label + " · " + signed(p.gain) + " residents"));
      var m = L.circleMarker([c[1], c[0]], {renderer: facilitySvg, pane: "facilities", radius: 9, weight: 3,
                                             color: "#54278f", dashArray: "4 3", fillColor: "#fff", fillOpacity: 0.85,
                                             bubblingMouseEvents: false});
      m.on("click", function (e) { if (e.originalEvent) { L.DomEvent.stopPropagation(e.originalEvent); } });
      m.bindTooltip(el("span", p.order + ". " + p.label + " " + signed(p.gain)),
                    {permanent: true, direction: "right", offset: [10, 0], className: "siting-suggest-tip"});
      suggestLayer.addLayer(m);
    });
    $("suggest-accept").hidden = st.sites.features.length === 0;
  }

  // ------------------------------------------------------------------ drawing a state
  function nextFrame() { return new Promise(function (r) { window.requestAnimationFrame(function () { r(); }); }); }

  var ALL = "homes,subdistricts,facilities,compare", EDITED = "homes,subdistricts,compare";
  function edited() { return homeMarkers.length && homesCell === null ? "walk,subdistricts,compare" : EDITED; }

  // a state on the map and the panel: the layers come from the state and the homes (fast); the notes and
  // counted facilities need the whole result and are fetched after, when the edits pause (scheduleNotes)
  function show(state, parts, rebuild) {
    drawn += 1;
    return Promise.all([api("GET", "/api/layers?parts=" + parts), fetchArea(), fetchCatchment(state)]).then(function (got) {
      var layers = got[0];
      last = state;
      panel(state);
      // canvas order: 街道 below, the homes on top (drawn and hit-tested last); areas on a canvas below both
      var rebuilt = layers.subdistricts !== undefined ? drawSubdistricts(layers.subdistricts, rebuild) : false;
      drawArea(got[1]);
      drawCatchment(got[2]);
      if (layers.walk && !rebuild && !rebuilt) { restyleHomes(layers.walk); }
      else { drawHomes(layers.homes, layers.cell_m, rebuild || rebuilt); }
      drawFacilities(state);
      if (layers.compare) { drawCompare(layers.compare); }
      if (!fitted) {
        fitted = true;
        var bounds = fitBounds(layers);
        if (bounds && bounds.isValid()) { map.fitBounds(bounds, {padding: [10, 10]}); }
        else { map.setView([31.2, 121.45], 12); }
      }
      scheduleNotes();
      return nextFrame();
    }).then(function () { return state; });
  }

  function fetchNotes() {
    var mine = drawn;
    clearTimeout(notesTimer);
    return api("GET", "/api/notes").then(function (got) {
      if (mine !== drawn) { return null; }  // an edit came in between: its own notes follow
      counted = {};
      got.counted.forEach(function (id) { counted[id] = true; });
      notes(got.notes);
      restyleFacilities();
      return got;
    });
  }

  function scheduleNotes() {
    clearTimeout(notesTimer);
    notesTimer = setTimeout(function () { quiet(fetchNotes()); }, 300);
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
        var state = name === "add" ? out.state : out;
        if (name === "add") { selected = out.id; } else if (name === "move") { selected = body.id; }
        if (selected !== null && !state.facilities.some(function (f) { return f.id === selected && f.open; })) {
          selected = null;  // its station was closed, or its add undone
        }
        clearSuggestion();  // made on the state before (the server dropped it)
        $("suggest-status").textContent = "";
        // 街道 rates change with every edit: their outlines are cached server-side, cheap to resend; the homes
        // keep their places: only their walking times are sent, unless the settings changed
        return show(state, name === "configure" ? EDITED : edited());
      }).catch(function (err) {
        message(err.message);
        throw err;
      }).finally(function () { document.body.classList.remove("busy"); });
    });
  }

  function quiet(promise) { promise.catch(function () { return null; }); }  // UI clicks: shown in the panel

  function failed(err) { message(err.message); throw err; }

  function poll() {  // the running suggestion's status every 250 ms, until it ends or is cancelled
    return new Promise(function (resolve, reject) {
      function tick() {
        api("GET", "/api/suggest/status").then(function (st) {
          drawSuggestion(st);
          if (st.running && !st.cancelled) { window.setTimeout(tick, 250); } else { resolve(st); }
        }, reject);
      }
      window.setTimeout(tick, 250);
    });
  }

  function suggest(opts) {
    var o = opts || {}, body = {time_limit: o.time_limit || 10};
    if (o.target !== undefined && o.target !== null) { body.target = o.target; } else { body.k = o.k || 3; }
    clearSuggestion();
    message("");
    return api("POST", "/api/suggest", body).then(function (st) {
      drawSuggestion(st);
      return poll();
    }).catch(failed);
  }

  function exportZip() {
    $("exported").textContent = "导出中 writing the map and the report… (a few seconds)";
    var headers = {};
    if (TOKEN) { headers["X-Siting-Token"] = TOKEN; }
    return fetch("/api/export", {headers: headers, credentials: "same-origin"}).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (d) { throw new Error(d.error || "HTTP " + r.status); });
      }
      var name = (/filename="([^"]+)"/.exec(r.headers.get("content-disposition") || "") || [])[1] || "siting.zip";
      return r.blob().then(function (blob) {
        var a = el("a");
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
        window.setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
        $("exported").textContent = "→ " + name + " (" + (blob.size / 1e6).toFixed(1) + " MB)";
        return {name: name, size: blob.size};
      });
    }).catch(function (err) { $("exported").textContent = ""; failed(err); });
  }

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
    suggest: suggest,
    cancelSuggest: function () {
      return api("POST", "/api/suggest/cancel", {}).then(function (st) {
        drawSuggestion(st);
        clearSuggestion();
        return st;
      }).catch(failed);
    },
    accept: function () {
      return enqueue(function () {
        document.body.classList.add("busy");
        return api("POST", "/api/suggest/accept", {}).then(function (out) {
          message("");
          clearSuggestion();
          $("suggest-status").textContent = "采纳 accepted: " + out.ids.length + " station(s) added (undo removes them one by one)";
          selected = out.ids.length ? out.ids[out.ids.length - 1] : selected;
          return show(out.state, edited());
        }).catch(failed).finally(function () { document.body.classList.remove("busy"); });
      });
    },
    catchment: function (id) {
      return enqueue(function () {
        selected = id === null || id === undefined ? null : String(id);
        return fetchCatchment(last).then(function (fc) { drawCatchment(fc); return fc; }).catch(failed);
      });
    },
    scenario: function (name) {
      return enqueue(function () {
        document.body.classList.add("busy");
        message("loading scenario " + name + "…");
        return api("POST", "/api/scenario", {name: name}).then(function (out) {
          message("");
          selected = null;
          catchKey = null;
          clearSuggestion();
          drawScenarios(out.scenarios);
          return show(out.state, ALL, true).then(fetchNotes).then(function () { return out.state; });
        }).catch(function (err) {
          if (scenarios) { drawScenarios(scenarios); }
          failed(err);
        }).finally(function () { document.body.classList.remove("busy"); });
      });
    },
    notes: function () { return fetchNotes(); },
    export: exportZip,
    state: function () { return last; },
    map: map,
    layers: {subdistricts: subsLayer, area: areaLayer, catchment: catchLayer, homes: homesLayer,
             facilities: facilityLayer, suggestion: suggestLayer}
  };
  window.siting = hook;

  // ------------------------------------------------------------------ controls
  map.on("click", function (e) { quiet(hook.add(e.latlng.lng, e.latlng.lat)); });
  map.on("contextmenu", function () { quiet(hook.catchment(null)); });
  $("suggest").addEventListener("click", function () {
    var k = parseInt($("suggest-k").value, 10);
    quiet(hook.suggest({k: isFinite(k) ? k : 3}));
  });
  $("suggest-target").addEventListener("click", function () {
    if (!last || last.target === null) { message("no target for this run: set one (--target) or use k sites"); return; }
    quiet(hook.suggest({target: last.target}));
  });
  $("suggest-cancel").addEventListener("click", function () { quiet(hook.cancelSuggest()); });
  $("suggest-accept").addEventListener("click", function () { quiet(hook.accept()); });
  $("export").addEventListener("click", function () { quiet(hook.export()); });
  $("scenario").addEventListener("change", function () { quiet(hook.scenario($("scenario").value)); });
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
    return Promise.all([api("GET", "/api/state"), api("GET", "/api/scenarios")]).then(function (got) {
      drawScenarios(got[1]);
      return show(got[0], ALL, true).then(fetchNotes).then(function () { return got[0]; });
    });
  }).catch(function (err) {
    message("cannot load the workbench: " + err.message);
    throw err;
  });
  quiet(hook.ready);
}());
