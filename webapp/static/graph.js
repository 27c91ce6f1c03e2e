/* Draws a certification's neighbourhood (/certification/<id>/graphe) with the vendored cytoscape.js.
 * Progressive enhancement: the page already lists the same facts; this script only shows the figure
 * (hidden in the HTML) once the library and the data (graphe.json, cytoscape elements format) are here.
 * A static file, not an inline script, because the explorer's CSP is script-src 'self'. */
(function () {
  "use strict";
  var figure = document.getElementById("graphe-figure");
  var box = document.getElementById("graphe");
  var status = document.getElementById("graphe-status");
  if (!figure || !box || typeof window.cytoscape !== "function" || !window.fetch) {
    return; // no library or an old browser: the lists stay the whole page
  }
  // cytoscape.js adds a <style> element for its container's position, which the CSP (style-src 'self')
  // refuses; style.css carries that rule, and an element with this id tells cytoscape not to try.
  if (!document.getElementById("__________cytoscape_stylesheet")) {
    var marker = document.createElement("meta");
    marker.id = "__________cytoscape_stylesheet";
    document.head.appendChild(marker);
  }

  function cut(text, n) {
    text = String(text || "");
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  var style = [
    { selector: "node", style: {
        "label": "data(display)", "font-size": 13, "color": "#1d2433", "text-wrap": "wrap",
        "text-max-width": 150, "text-valign": "bottom", "text-margin-y": 4,
        "border-width": 1, "border-color": "#ffffff" } },
    { selector: "node.certification", style: {
        "shape": "ellipse", "background-color": "#6f8fd0", "width": 34, "height": 34 } },
    { selector: "node.focus", style: {
        "background-color": "#1f4fa3", "width": 52, "height": 52, "font-weight": "bold", "font-size": 14,
        "text-max-width": 240 } },
    { selector: "node.bloc", style: {
        "shape": "round-rectangle", "background-color": "#2f8a52", "width": 26, "height": 18, "font-size": 12 } },
    { selector: "node.rome", style: {
        "shape": "diamond", "background-color": "#c98a12", "width": 22, "height": 22, "font-size": 12 } },
    { selector: "node.rome.shared", style: { "width": 30, "height": 30 } },
    { selector: "edge", style: {
        "width": 1, "line-color": "#b9c1cf", "curve-style": "bezier", "font-size": 12, "color": "#1d2433",
        "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 2 } },
    { selector: "edge.bridge", style: {
        "line-color": "#1f4fa3", "width": "mapData(score, 0, 1, 1.5, 9)", "label": "data(label)", "opacity": 0.8 } },
    { selector: "edge.equivalent", style: { "line-color": "#2f8a52", "line-style": "dashed", "width": 2.5 } },
    { selector: "edge.rome", style: { "line-color": "#e0b45c" } },
    { selector: "node:selected, node.hover", style: { "border-width": 3, "border-color": "#1d2433" } }
  ];

  function draw(data) {
    var elements = data.elements || { nodes: [], edges: [] };
    elements.nodes.forEach(function (n) {
      var d = n.data;
      d.display = d.kind === "certification" ? d.label + "\n" + cut(d.title, 34) : d.label;
    });
    figure.hidden = false;
    var cy = window.cytoscape({
      container: box,
      elements: elements,
      style: style,
      layout: { name: "preset" },
      minZoom: 0.2, maxZoom: 3
    });
    // A fixed radial drawing on a wide ellipse (the canvas is wider than tall; force-directed layouts
    // came out tall, so small that labels could not be read): the certification in the middle, its
    // bridges around it, each bloc and ROME fiche fanned out next to the certifications it belongs to
    // (between them when shared). The same on every load.
    var focus = cy.$("node.focus");
    var others = cy.nodes(".certification").not(focus);
    var rx = Math.max(box.clientWidth, 400) * 0.42, ry = Math.max(box.clientHeight, 300) * 0.36;
    focus.position({ x: 0, y: 0 });
    others.forEach(function (n, i) {
      var a = 2 * Math.PI * i / Math.max(others.length, 1) - Math.PI / 2;
      n.position({ x: Math.cos(a) * rx, y: Math.sin(a) * ry });
    });
    // leaves (blocs, ROME fiches) grouped by the certifications they hang from
    var groups = {};
    cy.nodes(".bloc, .rome").forEach(function (n) {
      var owners = n.neighborhood("node.certification");
      var key = owners.map(function (o) { return o.id(); }).sort().join("|");
      (groups[key] = groups[key] || { owners: owners, nodes: [] }).nodes.push(n);
    });
    Object.keys(groups).forEach(function (key) {
      var g = groups[key], m = g.nodes.length, x = 0, y = 0;
      g.owners.forEach(function (o) { x += o.position("x"); y += o.position("y"); });
      x /= Math.max(g.owners.length, 1);
      y /= Math.max(g.owners.length, 1);
      var isFocus = g.owners.length === 1 && g.owners[0].hasClass("focus");
      var out = Math.atan2(y, x) || 0;
      var place = function (n, angle, r) {
        n.position({ x: x + Math.cos(angle) * r * 1.3, y: y + Math.sin(angle) * r });
      };
      var fan = function (nodes, centre, r) {
        var step = Math.min(Math.PI / 5, 1.4 * Math.PI / Math.max(nodes.length, 1));
        nodes.forEach(function (n, j) { place(n, centre + (j - (nodes.length - 1) / 2) * step, r); });
      };
      if (isFocus) {
        // a bloc with an equivalent goes towards the certification holding it; the rest all around,
        // between the bridges' directions
        var free = [], toward = {};
        g.nodes.forEach(function (n) {
          var eq = n.connectedEdges("edge.equivalent").connectedNodes().not(n)
                    .neighborhood("node.certification").not(focus);
          if (eq.length) {
            var t = eq[0], k = (toward[t.id()] = (toward[t.id()] || 0) + 1) - 1;
            place(n, Math.atan2(t.position("y"), t.position("x")) + (k % 2 ? 1 : -1) * (0.3 + 0.25 * Math.floor(k / 2)), 85);
          } else {
            free.push(n);
          }
        });
        free.forEach(function (n, j) {
          place(n, 2 * Math.PI * (j + 0.5) / free.length - Math.PI / 2 + Math.PI / Math.max(others.length, 1), 150);
        });
      } else if (g.owners.length > 1) {
        fan(g.nodes, out + Math.PI / 2, 45);  // shared: between its certifications, beside the line
      } else {
        // a neighbour's blocs then its ROME fiches, fanned outwards (away from the centre)
        fan(g.nodes.filter(function (n) { return n.hasClass("bloc"); })
                   .concat(g.nodes.filter(function (n) { return !n.hasClass("bloc"); })), out, 95);
      }
    });
    cy.fit(undefined, 40);
    cy.on("tap", "node", function (evt) {
      var href = evt.target.data("href");
      if (href) { window.location.href = href; }
    });
    cy.on("mouseover", "node", function (evt) {
      var d = evt.target.data();
      evt.target.addClass("hover");
      box.title = d.label + (d.title && d.title !== d.label ? " — " + d.title : "");
      box.style.cursor = d.href ? "pointer" : "";
    });
    cy.on("mouseout", "node", function (evt) {
      evt.target.removeClass("hover");
      box.title = "";
      box.style.cursor = "";
    });
  }

  fetch(box.getAttribute("data-src"), { headers: { "Accept": "application/json" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(draw)
    .catch(function (err) {
      figure.hidden = false;
      box.hidden = true;
      if (status) { status.textContent = "Le graphe n'a pas pu être dessiné (" + err.message + ") ; le voisinage est listé ci-dessous."; }
    });
})();
