/* The agent console: the handoff queue, drafts and metrics, over the agent API.
 * Every piece of text from customers, the KB or the copilot is set with textContent, never as
 * HTML. The key stays in sessionStorage for this tab only. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var session = JSON.parse(sessionStorage.getItem("copilot-console") || "{}");

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function status(text) { $("status").textContent = text; }

  function call(method, path, body) {
    return fetch(path, {
      method: method,
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.key },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) {
          var err = new Error(data.error || data.detail || "HTTP " + r.status);
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    session = { agent: $("agent").value.trim(), key: $("key").value.trim() };
    call("GET", "/v1/handoffs").then(function () {
      sessionStorage.setItem("copilot-console", JSON.stringify(session));
      start();
    }).catch(function (err) { status("Sign-in failed: " + err.message); });
  });

  function start() {
    $("login").hidden = true;
    $("tabs").hidden = false;
    show("queue");
  }
  Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
    b.addEventListener("click", function () { show(b.dataset.tab); });
  });
  function show(tab) {
    ["queue", "draft", "metrics"].forEach(function (t) {
      $(t).hidden = t !== tab;
      document.querySelector('[data-tab="' + t + '"]').setAttribute("aria-pressed", String(t === tab));
    });
    if (tab === "queue") loadQueue();
    if (tab === "metrics") loadMetrics();
  }

  // ---- queue ---------------------------------------------------------------------------------
  function loadQueue() {
    call("GET", "/v1/handoffs").then(function (items) {
      var list = $("handoffs");
      list.textContent = "";
      items.filter(function (h) { return h.status !== "resolved"; }).forEach(function (h) {
        var b = el("button", "[" + h.status + "] priority " + h.priority + " · " + h.reason);
        b.appendChild(el("br"));
        var first = (h.packet.transcript || [])[0];
        b.appendChild(el("small", first ? first.content.slice(0, 80) : h.conversation_id));
        b.addEventListener("click", function () { openHandoff(h.id); });
        var li = el("li");
        li.appendChild(b);
        list.appendChild(li);
      });
      if (!list.children.length) list.appendChild(el("li", "Nothing waiting."));
    }).catch(function (err) { status(err.message); });
  }

  // The transcript comes a page at a time: follow next_after to the end.
  function transcript(cid, after, turns) {
    var path = "/v1/conversations/" + encodeURIComponent(cid) + "?limit=200&after=" + after;
    return call("GET", path).then(function (t) {
      t.turns = turns.concat(t.turns);
      return t.next_after ? transcript(cid, t.next_after, t.turns) : t;
    });
  }

  function openHandoff(id) {
    call("GET", "/v1/handoffs/" + encodeURIComponent(id)).then(function (h) {
      return transcript(h.conversation_id, 0, []).then(function (t) { renderHandoff(h, t); });
    }).catch(function (err) { status(err.message); });
  }

  function renderHandoff(h, transcript) {
    var d = $("detail");
    d.textContent = "";
    var p = h.packet;
    d.appendChild(el("h2", "Handoff: " + h.reason + " (" + h.status + ")"));
    var ctx = el("div", null, "box");
    ctx.appendChild(el("h3", "Customer"));
    ["page", "workspace", "plan", "role"].forEach(function (k) {
      if (p.context && p.context[k]) ctx.appendChild(el("div", k + ": " + p.context[k]));
    });
    ctx.appendChild(el("div", "Copilot confidence: " + Number(p.confidence).toFixed(2)));
    d.appendChild(ctx);
    // Proactive help (docs/proactive.md): what the nudge rules noticed for this account lately.
    if (p.context && p.context.workspace) {
      call("GET", "/v1/struggles?account=" + encodeURIComponent(p.context.workspace)).then(function (s) {
        if (!s.struggling) return;
        var mark = el("div", null, "struggling");
        mark.appendChild(el("strong", "Struggling lately: "));
        mark.appendChild(document.createTextNode(s.recent.slice(0, 3).map(function (r) {
          return r.reason + " (" + r.rule + (r.product_area ? ", " + r.product_area : "") + ")";
        }).join("; ")));
        ctx.appendChild(mark);
      }).catch(function () {});
    }
    var conv = el("div", null, "box");
    conv.appendChild(el("h3", "Conversation"));
    transcript.turns.forEach(function (t) { conv.appendChild(el("div", t.role + ": " + t.text, "turn " + t.role)); });
    d.appendChild(conv);
    var tried = el("div", null, "box");
    tried.appendChild(el("h3", "Articles tried"));
    var ul = el("ul");
    (p.articles_tried || []).forEach(function (a) { ul.appendChild(el("li", a[0] + " (score " + a[1] + ")")); });
    tried.appendChild(ul);
    if (p.suggested_next_step) {
      tried.appendChild(el("h3", "Suggested next step"));
      tried.appendChild(el("p", p.suggested_next_step));
    }
    d.appendChild(tried);
    var history = el("div", null, "box");
    history.appendChild(el("h3", "History"));
    var events = el("ul");
    (h.events || []).forEach(function (e) {
      events.appendChild(el("li", e.at.slice(0, 16).replace("T", " ") + " " + e.actor + ": " + e.action));
    });
    history.appendChild(events);
    d.appendChild(history);

    var act = el("div", null, "box");
    function button(text, fn) {
      var b = el("button", text);
      b.type = "button";
      b.addEventListener("click", fn);
      act.appendChild(b);
      return b;
    }
    function then(promise) {
      promise.then(function () { openHandoff(h.id); loadQueue(); }).catch(function (err) { status(err.message); });
    }
    if (h.status === "open" || h.status === "reopened") {
      button("Claim", function () { then(call("POST", "/v1/handoffs/" + h.id + "/claim")); });
    }
    if (h.status === "claimed") {
      var label = el("label", "Reply to the customer");
      var box = el("textarea");
      box.rows = 3;
      box.id = "reply";
      label.appendChild(box);
      act.appendChild(label);
      button("Send reply", function () {
        if (!box.value.trim()) return;
        var path = "/v1/handoffs/" + h.id + "/messages";
        then(call("POST", path, { text: box.value }).catch(function (err) {
          // A link customers may not be sent: the agent checks it and confirms, or edits.
          var links = err.data && err.data.links;
          if (!links || !window.confirm("This reply links off-site:\n" + links.join("\n") + "\nSend it anyway?")) throw err;
          return call("POST", path, { text: box.value, confirm_links: true });
        }));
      });
      button("Resolve", function () { then(call("POST", "/v1/handoffs/" + h.id + "/resolve")); });
      button("Release", function () { then(call("POST", "/v1/handoffs/" + h.id + "/release")); });
    }
    d.appendChild(act);
    status("Opened handoff " + h.id);
  }

  // ---- drafts --------------------------------------------------------------------------------
  $("draft-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var out = $("draft-out");
    out.textContent = "Drafting…";
    call("POST", "/v1/drafts", { subject: $("subject").value, body: $("body").value }).then(function (d) {
      out.textContent = "";
      var box = el("div", null, "box");
      box.appendChild(el("h3", "Draft (confidence " + Number(d.confidence).toFixed(2) + ")"));
      var text = el("pre", d.text);
      text.style.whiteSpace = "pre-wrap";
      box.appendChild(text);
      var copy = el("button", "Copy draft");
      copy.type = "button";
      copy.addEventListener("click", function () {
        navigator.clipboard && navigator.clipboard.writeText(d.text);
        status("Draft copied.");
      });
      box.appendChild(copy);
      box.appendChild(el("h3", "Sources"));
      var ul = el("ul");
      d.citations.forEach(function (c) { ul.appendChild(el("li", c.title + " (" + c.article_id + ")")); });
      box.appendChild(ul);
      if (d.checks.length) {
        box.appendChild(el("h3", "Check before sending"));
        var checks = el("ul");
        d.checks.forEach(function (c) { checks.appendChild(el("li", c)); });
        box.appendChild(checks);
      }
      out.appendChild(box);
    }).catch(function (err) { out.textContent = err.message; });
  });

  // ---- metrics -------------------------------------------------------------------------------
  function loadMetrics() {
    call("GET", "/v1/metrics").then(function (m) {
      var out = $("metrics-out");
      out.textContent = "";
      var table = el("table");
      var head = el("tr");
      ["metric", "value"].forEach(function (h) { head.appendChild(el("th", h)); });
      table.appendChild(head);
      ["conversations", "self_service_resolution_rate", "handoff_rate", "zero_result_rate",
       "wrong_answer_rate", "thumbs_up", "thumbs_down", "satisfaction", "reopened_handoffs",
       "latency_p50_ms", "latency_p95_ms"].forEach(function (k) {
        var tr = el("tr");
        tr.appendChild(el("td", k));
        var v = m[k];
        tr.appendChild(el("td", v === null || v === undefined ? "–" : typeof v === "number" && v % 1 ? v.toFixed(3) : v));
        table.appendChild(tr);
      });
      out.appendChild(table);
      out.appendChild(el("h3", "Conversations per day"));
      out.appendChild(chart(m.by_day || {}));
      out.appendChild(el("h3", "Handoff reasons"));
      var reasons = el("ul");
      Object.keys(m.handoff_reasons || {}).forEach(function (r) { reasons.appendChild(el("li", r + ": " + m.handoff_reasons[r])); });
      out.appendChild(reasons);
      out.appendChild(el("h3", "Stale articles cited, by owner"));
      var stale = el("ul");
      Object.keys(m.stale_citations_by_owner || {}).forEach(function (o) { stale.appendChild(el("li", o + ": " + m.stale_citations_by_owner[o])); });
      out.appendChild(stale);
      return call("GET", "/v1/gaps").then(function (gaps) {
        out.appendChild(el("h3", "Top content gaps"));
        var ol = el("ol");
        gaps.forEach(function (g) { ol.appendChild(el("li", g.size + " × " + g.product_area + ": " + g.examples.join(" · "))); });
        if (!gaps.length) ol.appendChild(el("li", "None yet."));
        out.appendChild(ol);
      });
    }).catch(function (err) { status(err.message); });
  }
  function chart(byDay) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    var days = Object.keys(byDay);
    var w = 600, h = 160, max = 1;
    days.forEach(function (d) { max = Math.max(max, byDay[d].conversations); });
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "conversations per day");
    days.forEach(function (d, i) {
      var bw = (w - 20) / Math.max(days.length, 1);
      var bh = (h - 20) * byDay[d].conversations / max;
      var r = document.createElementNS(ns, "rect");
      r.setAttribute("class", "bar");
      r.setAttribute("x", 10 + i * bw);
      r.setAttribute("y", h - 10 - bh);
      r.setAttribute("width", Math.max(bw * 0.8, 1));
      r.setAttribute("height", bh);
      var t = document.createElementNS(ns, "title");
      t.textContent = d + ": " + byDay[d].conversations;
      r.appendChild(t);
      svg.appendChild(r);
    });
    return svg;
  }

  if (session.key) start();
})();
