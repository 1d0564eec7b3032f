/* The agent console: the queue (filters, search, live by short polling with ETags), a handoff's
 * detail (contact and context, the transcript with the bot's turns marked, articles tried with
 * one-click labels, reply with an article inserted, internal notes, claim/release/resolve), the
 * "not for us" view, drafts and metrics, over the agent API (docs/console.md).
 * Text from customers, the KB or the copilot is escaped before the little markdown we render
 * (bold, code, lists), as widget.js does; everything else is set with textContent. The key stays
 * in sessionStorage for this tab only; who acts is the key's agent (GET /v1/agents/me). */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var session = JSON.parse(sessionStorage.getItem("copilot-console") || "{}");
  var POLL_MS = Number(new URLSearchParams(location.search).get("poll_ms")) || 3000;
  var PAGE = 25;
  var state = { etag: null, items: [], total: 0, current: null, timer: null };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function status(text) { $("status").textContent = text; }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function inline(line) {
    return line
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/`([^`]+)`/g, "<code>$1</code>");
  }
  // Escaped first, then bold, code and lists: no tag from the text survives.
  function markdown(text) {
    var out = [];
    var list = null;
    escapeHtml(text || "").split("\n").forEach(function (line) {
      var item = line.match(/^\s*(\d+)[.)]\s+(.*)$/) || line.match(/^\s*[-*]\s+(.*)$/);
      var kind = item ? (item.length === 3 ? "ol" : "ul") : null;
      if (list && kind !== list) { out.push("</" + list + ">"); list = null; }
      if (kind) {
        if (!list) out.push("<" + (list = kind) + ">");
        out.push("<li>" + inline(item[item.length - 1]) + "</li>");
      } else if (line.trim()) {
        out.push("<p>" + inline(line) + "</p>");
      }
    });
    if (list) out.push("</" + list + ">");
    return out.join("");
  }
  function rendered(tag, text, cls) {
    var e = el(tag, null, cls);
    e.innerHTML = markdown(text);
    return e;
  }

  function request(method, path, body, headers) {
    var h = { "Content-Type": "application/json", Authorization: "Bearer " + session.key };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(path, { method: method, headers: h, body: body ? JSON.stringify(body) : undefined });
  }
  function call(method, path, body) {
    return request(method, path, body).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) {
          var err = new Error(data.error || (typeof data.detail === "string" ? data.detail : "HTTP " + r.status));
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  // ---- sign-in: the key says who you are ------------------------------------------------------
  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    session = { key: $("key").value.trim() };
    signIn().catch(function (err) { status("Sign-in failed: " + err.message); });
  });
  function signIn() {
    return call("GET", "/v1/agents/me").then(function (me) {
      session.agent = me.name;
      sessionStorage.setItem("copilot-console", JSON.stringify(session));
      $("login").hidden = true;
      $("whoami").hidden = false;
      $("whoami").textContent = "Signed in as " + me.name + (me.scope === "admin" ? " (admin)" : "");
      $("tabs").hidden = false;
      show("queue");
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
    b.addEventListener("click", function () { show(b.dataset.tab); });
  });
  function show(tab) {
    ["queue", "notforus", "draft", "metrics"].forEach(function (t) {
      $(t).hidden = t !== tab;
      document.querySelector('[data-tab="' + t + '"]').setAttribute("aria-pressed", String(t === tab));
    });
    if (tab === "queue") refresh(true);
    if (tab === "notforus") loadNotForUs();
    if (tab === "metrics") loadMetrics();
  }

  // ---- time ------------------------------------------------------------------------------------
  function span(ms) {
    var m = Math.max(0, Math.round(ms / 60000));
    if (m < 60) return m + "m";
    var h = Math.floor(m / 60);
    if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }
  function waiting(h) { return "waiting " + span(Date.now() - Date.parse(h.created_at)); }
  function due(h) {
    if (!h.due_at) return "no SLA";
    if (h.first_response_at) return h.breached ? "answered late" : "answered in time";
    var left = Date.parse(h.due_at) - Date.now();
    return left >= 0 ? "due in " + span(left) : "overdue by " + span(-left);
  }

  // ---- the queue -------------------------------------------------------------------------------
  function query(offset, limit) {
    var p = new URLSearchParams();
    p.set("status", $("f-status").value);
    p.set("assigned", $("f-assigned").value);
    if ($("f-reason").value) p.set("reason", $("f-reason").value);
    if ($("f-area").value.trim()) p.set("area", $("f-area").value.trim());
    if ($("f-breached").checked) p.set("breached", "true");
    if ($("f-q").value.trim()) p.set("q", $("f-q").value.trim());
    p.set("limit", String(limit));
    p.set("offset", String(offset));
    return "/v1/handoffs?" + p.toString();
  }
  // One request for everything shown so far; a 304 (nothing changed) costs nothing.
  function refresh(force) {
    var shown = Math.max(PAGE, state.items.length);
    var headers = force || !state.etag ? {} : { "If-None-Match": state.etag };
    return request("GET", query(0, Math.min(shown, 100)), null, headers).then(function (r) {
      if (r.status === 304) return;
      return r.json().then(function (page) {
        if (!r.ok) throw new Error(page.error || page.detail || "HTTP " + r.status);
        state.etag = r.headers.get("ETag");
        state.items = page.items;
        state.total = page.total;
        renderQueue();
      });
    }).catch(function (err) { status(err.message); });
  }
  function more() {
    call("GET", query(state.items.length, PAGE)).then(function (page) {
      state.items = state.items.concat(page.items);
      state.total = page.total;
      state.etag = null;
      renderQueue();
    }).catch(function (err) { status(err.message); });
  }
  function renderQueue() {
    var list = $("handoffs");
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    list.textContent = "";
    state.items.forEach(function (h) {
      var b = el("button", null, "row" + (h.breached ? " breached" : "") + (state.current === h.id ? " current" : ""));
      b.type = "button";
      b.dataset.id = h.id;
      var top = el("span", null, "line");
      top.appendChild(el("span", "P" + h.priority, "prio"));
      top.appendChild(el("span", h.status, "badge " + h.status));
      if (h.breached) top.appendChild(el("span", "SLA breached", "badge breach"));
      top.appendChild(el("span", h.reason.replace(/_/g, " ")));
      b.appendChild(top);
      b.appendChild(el("span", h.preview || "(no message)", "preview"));
      var facts = [waiting(h), due(h), h.claimed_by ? "with " + h.claimed_by : "unassigned"];
      if (h.product_area) facts.push(h.product_area);
      if (h.plan) facts.push(h.plan);
      b.appendChild(el("small", facts.join(" · "), "facts"));
      b.setAttribute("aria-current", String(state.current === h.id));
      b.addEventListener("click", function () { openHandoff(h.id, true); });
      var li = el("li");
      li.appendChild(b);
      list.appendChild(li);
      if (focused === h.id) b.focus();
    });
    if (!state.items.length) list.appendChild(el("li", "Nothing matches.", "empty"));
    $("queue-count").textContent = state.total + (state.total === 1 ? " handoff" : " handoffs");
    $("more").hidden = state.items.length >= state.total;
  }
  var typing = null;
  ["f-status", "f-assigned", "f-reason", "f-breached"].forEach(function (id) {
    $(id).addEventListener("change", function () { state.items = []; refresh(true); });
  });
  ["f-q", "f-area"].forEach(function (id) {
    $(id).addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(function () { state.items = []; refresh(true); }, 250);
    });
  });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); refresh(true); });
  $("more").addEventListener("click", more);
  // Live: poll while the queue is on screen; the ETag makes an idle poll a 304.
  function poll() {
    clearTimeout(state.timer);
    state.timer = setTimeout(function () {
      var on = session.agent && !$("queue").hidden && document.visibilityState !== "hidden";
      (on ? refresh(false) : Promise.resolve()).then(poll);
    }, POLL_MS);
  }
  document.addEventListener("keydown", function (e) {
    // "/" jumps to search, as in most queues; not while typing somewhere.
    if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      e.preventDefault();
      show("queue");
      $("f-q").focus();
    }
  });

  // ---- one handoff -----------------------------------------------------------------------------
  function transcript(cid, after, turns) {
    var path = "/v1/conversations/" + encodeURIComponent(cid) + "?limit=200&after=" + after;
    return call("GET", path).then(function (t) {
      t.turns = turns.concat(t.turns);
      return t.next_after ? transcript(cid, t.next_after, t.turns) : t;
    });
  }
  function openHandoff(id, focus) {
    state.current = id;
    return call("GET", "/v1/handoffs/" + encodeURIComponent(id)).then(function (h) {
      return transcript(h.conversation_id, 0, []).then(function (t) {
        renderHandoff(h, t);
        renderQueue();
        if (focus) $("detail-title").focus();
      });
    }).catch(function (err) { status(err.message); });
  }
  function box(title) {
    var b = el("section", null, "box");
    b.appendChild(el("h3", title));
    return b;
  }
  var ROLE = { user: "Customer", assistant: "Copilot (bot)", agent: "Agent" };

  function renderHandoff(h, conv) {
    var d = $("detail");
    // A re-render (live update, another action) keeps what the agent was typing.
    var draftText = $("reply") ? $("reply").value : "";
    var noteText = $("note") ? $("note").value : "";
    d.textContent = "";
    var p = h.packet;
    var title = el("h2", "Handoff · " + h.reason.replace(/_/g, " ") + " · " + h.status);
    title.id = "detail-title";
    title.tabIndex = -1;
    d.appendChild(title);
    var sla = el("p", null, "sla" + (h.breached ? " breached" : ""));
    sla.textContent = "Priority " + h.priority + (h.sla_rule ? " (rule: " + h.sla_rule + ")" : "") +
      " · " + due(h) + (h.due_at ? " (" + new Date(h.due_at).toLocaleString() + ")" : "") +
      " · " + waiting(h) + " · " + (h.claimed_by ? "claimed by " + h.claimed_by : "unassigned");
    if (h.breached) sla.appendChild(el("strong", " SLA breached", "badge breach"));
    d.appendChild(sla);

    var who = box("Customer");
    var ctx = conv.context || p.context || {};
    var contact = conv.contact || ctx.contact || {};
    ["name", "email", "user_id"].forEach(function (k) { if (contact[k]) who.appendChild(el("div", k + ": " + contact[k])); });
    ["page", "workspace", "plan", "role"].forEach(function (k) { if (ctx[k]) who.appendChild(el("div", k + ": " + ctx[k])); });
    Object.keys(ctx.attributes || {}).forEach(function (k) { who.appendChild(el("div", k + ": " + ctx.attributes[k])); });
    who.appendChild(el("div", "Copilot confidence: " + Number(p.confidence).toFixed(2)));
    if (h.product_area) who.appendChild(el("div", "Product area: " + h.product_area));
    d.appendChild(who);
    // Proactive help (docs/proactive.md): what the nudge rules noticed for this account lately.
    if (ctx.workspace) {
      call("GET", "/v1/struggles?account=" + encodeURIComponent(ctx.workspace)).then(function (s) {
        if (!s.struggling) return;
        var mark = el("div", null, "struggling");
        mark.appendChild(el("strong", "Struggling lately: "));
        mark.appendChild(document.createTextNode(s.recent.slice(0, 3).map(function (r) {
          return r.reason + " (" + r.rule + (r.product_area ? ", " + r.product_area : "") + ")";
        }).join("; ")));
        who.appendChild(mark);
      }).catch(function () {});
    }

    var talk = box("Conversation");
    var ol = el("ol", null, "transcript");
    conv.turns.forEach(function (t) {
      var li = el("li", null, "turn " + t.role);
      li.appendChild(el("span", (ROLE[t.role] || t.role) + (t.while_waiting ? ", while waiting for a person" : ""), "who"));
      li.appendChild(rendered("div", t.text, "said"));
      ol.appendChild(li);
    });
    talk.appendChild(ol);
    d.appendChild(talk);

    var tried = box("Articles tried");
    tried.appendChild(el("p", "Teach the copilot: does this article answer the customer's question?", "hint"));
    var ul = el("ul", null, "tried");
    (p.articles_tried || []).forEach(function (a) {
      var li = el("li");
      li.appendChild(el("span", a[0] + " (score " + a[1] + ")", "article"));
      labelButton(li, h.conversation_id, a[0], "Answers it", a[0] + " answers it");
      labelButton(li, h.conversation_id, null, "Not in the KB", "not in the KB (" + a[0] + ")");
      if (h.status === "claimed" && h.claimed_by === session.agent) {
        var ins = el("button", "Insert in reply");
        ins.type = "button";
        ins.setAttribute("aria-label", "Insert " + a[0] + " in the reply");
        ins.addEventListener("click", function () { insertArticle(a[0]); });
        li.appendChild(ins);
      }
      ul.appendChild(li);
    });
    if (!(p.articles_tried || []).length) {
      var li = el("li", "None.");
      labelButton(li, h.conversation_id, null, "Not in the KB", "not in the KB");
      ul.appendChild(li);
    }
    tried.appendChild(ul);
    if (p.suggested_next_step) {
      tried.appendChild(el("h4", "Suggested next step"));
      tried.appendChild(rendered("div", p.suggested_next_step, "md"));
    }
    d.appendChild(tried);

    var act = box("Act");
    function button(text, fn) {
      var b = el("button", text);
      b.type = "button";
      b.addEventListener("click", fn);
      act.appendChild(b);
      return b;
    }
    function move(action, done) {
      call("POST", "/v1/handoffs/" + h.id + "/" + action).then(function (moved) {
        status(done + " handoff " + h.id.slice(0, 8) + " as " + session.agent + ".");
        state.etag = null;
        refresh(true);
        return openHandoff(moved.id);
      }).catch(function (err) { status(err.message); });
    }
    var mine = h.status === "claimed" && h.claimed_by === session.agent;
    if (h.status === "open" || h.status === "reopened") button("Claim", function () { move("claim", "Claimed"); });
    if (mine) {
      var label = el("label", "Reply to the customer");
      var reply = el("textarea");
      reply.rows = 6;
      reply.id = "reply";
      reply.value = draftText;
      label.appendChild(reply);
      act.appendChild(label);
      button("Send reply", function () { send(h, reply); });
      button("Draft a reply", function () { draftFor(h, conv, reply); });
      button("Resolve", function () { move("resolve", "Resolved"); });
      button("Release", function () { move("release", "Released"); });
      act.appendChild(el("div", null, "draft-notes")).id = "draft-notes";
    } else if (h.status === "claimed") {
      act.appendChild(el("p", "Claimed by " + h.claimed_by + "."));
    }
    d.appendChild(act);

    var notes = box("Internal notes (never shown to the customer)");
    var nl = el("ul", null, "notes");
    (h.notes || []).forEach(function (n) {
      nl.appendChild(el("li", n.at.slice(0, 16).replace("T", " ") + " " + n.author + ": " + n.text));
    });
    notes.appendChild(nl);
    var nlabel = el("label", "Add a note");
    var note = el("textarea");
    note.rows = 2;
    note.id = "note";
    note.value = noteText;
    nlabel.appendChild(note);
    notes.appendChild(nlabel);
    var add = el("button", "Add note");
    add.type = "button";
    add.addEventListener("click", function () {
      if (!note.value.trim()) return;
      call("POST", "/v1/handoffs/" + h.id + "/notes", { text: note.value }).then(function () {
        if ($("note")) $("note").value = "";
        status("Note added.");
        return openHandoff(h.id);
      }).catch(function (err) { status(err.message); });
    });
    notes.appendChild(add);
    d.appendChild(notes);

    var history = box("History");
    var events = el("ul", null, "events");
    (h.events || []).forEach(function (e) {
      events.appendChild(el("li", e.at.slice(0, 16).replace("T", " ") + " " + e.actor + ": " + e.action));
    });
    history.appendChild(events);
    d.appendChild(history);
  }

  function labelButton(parent, cid, articleId, text, said) {
    var b = el("button", text);
    b.type = "button";
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", function () {
      call("POST", "/v1/conversations/" + encodeURIComponent(cid) + "/labels", { article_id: articleId })
        .then(function (stored) {
          b.setAttribute("aria-pressed", "true");
          status("Label stored: " + said + " (by " + stored.by + ").");
        }).catch(function (err) { status(err.message); });
    });
    parent.appendChild(b);
  }
  function insertArticle(id) {
    call("GET", "/v1/articles/" + encodeURIComponent(id) + "/reply").then(function (a) {
      var box = $("reply");
      var at = box.selectionStart || box.value.length;
      box.value = box.value.slice(0, at) + (at ? "\n" : "") + a.text + "\n" + box.value.slice(at);
      box.focus();
      status("Inserted “" + a.title + "”.");
    }).catch(function (err) { status(err.message); });
  }
  function send(h, box) {
    if (!box.value.trim()) return;
    var path = "/v1/handoffs/" + h.id + "/messages";
    call("POST", path, { text: box.value }).catch(function (err) {
      // A link customers may not be sent: the agent checks it and confirms, or edits.
      var links = err.data && err.data.links;
      if (!links || !window.confirm("This reply links off-site:\n" + links.join("\n") + "\nSend it anyway?")) throw err;
      return call("POST", path, { text: box.value, confirm_links: true });
    }).then(function () {
      box.value = "";
      status("Reply sent as " + session.agent + ".");
      state.etag = null;
      refresh(true);
      return openHandoff(h.id);
    }).catch(function (err) { status(err.message); });
  }
  function draftFor(h, conv, box) {
    var said = conv.turns.filter(function (t) { return t.role === "user"; }).map(function (t) { return t.text; });
    var contact = conv.contact || (conv.context || {}).contact || {};
    var out = $("draft-notes");
    out.textContent = "Drafting…";
    call("POST", "/v1/drafts", { body: said.join("\n") || "(no message)", customer_name: contact.name || "" })
      .then(function (d) {
        box.value = d.text;
        out.textContent = "";
        showDraftNotes(out, d);
        status("Draft ready: read it, then send.");
      }).catch(function (err) { out.textContent = err.message; });
  }
  // What the agent reads and the customer never sees: not covered, guidance, checks.
  function showDraftNotes(out, d) {
    if (d.not_covered && d.not_covered.length) {
      out.appendChild(el("h4", "Not covered by the sources"));
      var nc = el("ul", null, "not-covered");
      d.not_covered.forEach(function (n) { nc.appendChild(el("li", "not covered: " + n)); });
      out.appendChild(nc);
    }
    (d.guidance || []).forEach(function (g) {
      var gb = el("div", null, "guidance");
      gb.appendChild(el("h4", "Internal guidance: " + g.title));
      var ol = el("ol");
      g.steps.forEach(function (s) { ol.appendChild(el("li", s)); });
      gb.appendChild(ol);
      if (g.escalate) gb.appendChild(el("p", "Escalate: " + g.escalate));
      out.appendChild(gb);
    });
    if (d.checks && d.checks.length) {
      out.appendChild(el("h4", "Check before sending"));
      var ul = el("ul");
      d.checks.forEach(function (c) { ul.appendChild(el("li", c)); });
      out.appendChild(ul);
    }
  }

  // ---- not for us ------------------------------------------------------------------------------
  function loadNotForUs() {
    call("GET", "/v1/not-for-us?limit=100").then(function (r) {
      var out = $("notforus-out");
      out.textContent = "";
      var kinds = Object.keys(r.counts).map(function (k) { return k.replace(/_/g, " ") + ": " + r.counts[k]; });
      out.appendChild(el("p", r.total + " kept out of the queue" + (kinds.length ? " (" + kinds.join(", ") + ")" : "") + "."));
      var ol = el("ol", null, "notforus");
      r.items.forEach(function (i) {
        ol.appendChild(el("li", i.at.slice(0, 16).replace("T", " ") + " · " + i.kind.replace(/_/g, " ") + " · " + i.question));
      });
      out.appendChild(ol);
    }).catch(function (err) { status(err.message); });
  }

  // ---- drafts ----------------------------------------------------------------------------------
  $("draft-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var out = $("draft-out");
    out.textContent = "Drafting…";
    var body = { subject: $("subject").value, body: $("body").value, customer_name: $("d-name").value };
    call("POST", "/v1/drafts", body).then(function (d) {
      out.textContent = "";
      var b = box("Draft (confidence " + Number(d.confidence).toFixed(2) + ")");
      var text = el("textarea", null, "draft-text");
      text.value = d.text;
      text.rows = 14;
      text.setAttribute("aria-label", "Draft reply");
      b.appendChild(text);
      var copy = el("button", "Copy draft");
      copy.type = "button";
      copy.addEventListener("click", function () {
        if (navigator.clipboard) navigator.clipboard.writeText(text.value);
        status("Draft copied.");
      });
      b.appendChild(copy);
      showDraftNotes(b, d);
      b.appendChild(el("h4", "Sources"));
      var ul = el("ul");
      d.citations.forEach(function (c) { ul.appendChild(el("li", c.title + " (" + c.article_id + ")")); });
      b.appendChild(ul);
      out.appendChild(b);
    }).catch(function (err) { out.textContent = err.message; });
  });

  // ---- metrics ---------------------------------------------------------------------------------
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
       "first_response_p50_minutes", "first_response_p90_minutes", "sla_breaches",
       "sla_breached_waiting", "not_for_us", "latency_p50_ms", "latency_p95_ms"].forEach(function (k) {
        var tr = el("tr");
        tr.appendChild(el("td", k.replace(/_/g, " ")));
        var v = m[k];
        tr.appendChild(el("td", v === null || v === undefined ? "–" : typeof v === "number" && v % 1 ? v.toFixed(3) : v));
        table.appendChild(tr);
      });
      out.appendChild(table);
      out.appendChild(el("h3", "Handoffs by agent"));
      var agents = el("ul");
      Object.keys(m.handoffs_by_agent || {}).forEach(function (a) {
        var done = m.handoffs_by_agent[a];
        agents.appendChild(el("li", a + ": " + Object.keys(done).map(function (k) { return done[k] + " " + k; }).join(", ")));
      });
      out.appendChild(agents);
      out.appendChild(el("h3", "Handoff reasons"));
      var reasons = el("ul");
      Object.keys(m.handoff_reasons || {}).forEach(function (r) { reasons.appendChild(el("li", r + ": " + m.handoff_reasons[r])); });
      out.appendChild(reasons);
      return call("GET", "/v1/gaps").then(function (gaps) {
        out.appendChild(el("h3", "Top content gaps"));
        var ol = el("ol");
        gaps.forEach(function (g) { ol.appendChild(el("li", g.size + " × " + g.product_area + ": " + g.examples.join(" · "))); });
        if (!gaps.length) ol.appendChild(el("li", "None yet."));
        out.appendChild(ol);
      }).catch(function () { /* gaps need the index; the metrics stand alone */ });
    }).catch(function (err) { status(err.message); });
  }

  poll();
  if (session.key) signIn().catch(function () { sessionStorage.removeItem("copilot-console"); });
})();
