/* Support Copilot help widget: one script tag, no dependencies, no build step.
 *
 *   <script src="https://support.example.com/widget.js" data-title="Help" data-color="#3451b2"
 *           data-plan="business" defer></script>
 *   window.SupportCopilot.identify({userId: "u_42", name: "Ada", email: "ada@example.com",
 *                                   workspace: "acme", plan: "business", role: "admin"})
 *
 * Everything lives in a shadow root: the host page's CSS cannot reach in, ours cannot leak out.
 * Text from the copilot, the KB or an agent is escaped first and only then formatted, so no HTML
 * from them is ever parsed as markup. The conversation's id and token are kept in localStorage,
 * so a new tab or a return visit resumes it from the server (GET /v1/conversations/{id}).
 */
(function () {
  "use strict";
  if (window.SupportCopilot && window.SupportCopilot.loaded) return;

  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var api = (data.api || (script ? new URL(script.src).origin : "")).replace(/\/$/, "");
  var title = data.title || "Help";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#3451b2";
  var identity = { workspace: data.workspace || "", plan: data.plan || "", role: data.role || "" };
  var KEY = "support-copilot:" + api;
  var IDLE_MS = 10 * 60 * 1000; // a conversation with a message this recent counts as busy
  var RATINGS = ["Very poor", "Poor", "OK", "Good", "Very good"];
  var state = load();
  var config = null;
  var polling = null;
  var resumed = null; // the transcript fetch, once started
  var loading = false; // while it runs, polling waits (both page through `after`)
  var unread = 0; // agents' replies that arrived while the panel was closed

  function fresh() {
    return { voted: {}, picked: {} };
  }
  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY));
      return s && s.conversationId ? s : fresh();
    } catch (e) {
      return fresh();
    }
  }
  function save() {
    try {
      localStorage.setItem(KEY, JSON.stringify(state));
    } catch (e) {}
  }

  // ---- safe rendering: escape, then format ---------------------------------------------------
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
  function markdown(text) {
    var out = [];
    var list = null;
    escapeHtml(text).split("\n").forEach(function (line) {
      var item = line.match(/^\s*(\d+)[.)]\s+(.*)$/) || line.match(/^\s*[-*]\s+(.*)$/);
      var kind = item ? (item.length === 3 ? "ol" : "ul") : null;
      if (list && kind !== list) {
        out.push("</" + list + ">");
        list = null;
      }
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
  function safeUrl(url) {
    try {
      var u = new URL(url, api || location.href);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function button(text, onClick, cls) {
    var b = el("button", cls, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function group(label, cls) {
    var g = el("div", cls || "actions");
    g.setAttribute("role", "group");
    g.setAttribute("aria-label", label);
    return g;
  }

  // ---- the DOM ---------------------------------------------------------------------------------
  // A custom element, not a div: host-page rules for div or section never match it, and inline
  // !important styles beat the page's own !important rules on the one element it can reach.
  var host = document.createElement("support-copilot");
  host.setAttribute("data-support-copilot", "");
  ["all:initial", "display:block", "position:static", "visibility:visible", "opacity:1"]
    .forEach(function (rule) {
      var kv = rule.split(":");
      host.style.setProperty(kv[0], kv[1], "important");
    });
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:15px;line-height:1.45}" +
    ".launcher{position:fixed;right:16px;bottom:16px;z-index:2147483646;border:0;border-radius:999px;padding:12px 18px;background:var(--c);color:#fff;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".panel{position:fixed;right:16px;bottom:72px;z-index:2147483647;width:min(380px,calc(100vw - 16px));height:min(600px,calc(100vh - 96px));display:flex;flex-direction:column;background:#fff;color:#1b1b1f;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}" +
    ".panel.phone{border-radius:0;box-shadow:none}" +
    "[hidden],.panel[hidden]{display:none!important}" +
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:var(--c);color:#fff}" +
    "header h2{margin:0;font-size:16px}header small{display:block;font-size:12px;opacity:.9}" +
    "button{cursor:pointer;border-radius:8px;border:1px solid #c8c8d0;background:#f6f6f8;color:inherit;padding:6px 10px}" +
    "button:disabled{cursor:default;opacity:.6}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f5b700;outline-offset:2px}" +
    "header button{background:transparent;border:0;color:#fff;font-size:22px;padding:0 8px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}" +
    ".msg{max-width:88%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere}" +
    ".msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg ol,.msg ul{margin:4px 0;padding-left:20px}" +
    ".user{align-self:flex-end;background:var(--c);color:#fff}" +
    ".bot{align-self:flex-start;background:#f0f0f4}" +
    ".agent{align-self:flex-start;background:#e6f4ea;border:1px solid #9bd3ad}" +
    ".tag{display:block;font-size:12px;font-weight:600;color:#5b5b66;margin-bottom:4px}" +
    ".note,.small{font-size:13px;margin-top:6px}.note{color:#8a4b00}.small{color:#5b5b66}" +
    ".sources{font-size:13px;margin-top:6px}.sources a{color:var(--c)}" +
    ".actions{display:flex;gap:6px;flex-wrap:wrap;margin-top:6px;align-items:center}.actions button{font-size:13px;padding:4px 9px}" +
    ".choices{display:flex;flex-direction:column;gap:6px;margin-top:8px}.choices button{text-align:left}" +
    ".choices button[aria-pressed=true]{border-color:var(--c);font-weight:600}" +
    ".contact{display:flex;flex-direction:column;gap:6px;margin-top:8px}.contact input[type=email],.contact input[type=text]{border:1px solid #c8c8d0;border-radius:8px;padding:6px 8px;background:#fff;color:#1b1b1f}" +
    ".contact label{font-size:13px}.contact .row{display:flex;gap:6px}" +
    ".error{color:#b00020;font-size:13px}" +
    "form.ask{display:flex;gap:6px;padding:10px;border-top:1px solid #e2e2e8}" +
    "textarea{flex:1;resize:none;border:1px solid #c8c8d0;border-radius:8px;padding:8px;background:inherit;color:inherit}" +
    ".send{background:var(--c);color:#fff;border:0}" +
    ".foot{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:6px;padding:0 10px 10px;font-size:13px}" +
    ".foot button{font-size:13px}.status{font-size:13px;font-weight:600;flex:1}" +
    ".rating{display:flex;flex-wrap:wrap;align-items:center;gap:4px;padding:0 10px 10px;font-size:13px}.rating button{padding:2px 9px;font-size:13px}" +
    ".rating .scale{color:#5b5b66;font-size:12px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (prefers-color-scheme:dark){.panel{background:#1e1f24;color:#ececf1}.bot{background:#2c2d34}.agent{background:#1f3a2a;border-color:#2f6b45}button{background:#2c2d34;border-color:#4a4b55}.note{color:#ffb454}.small,.tag,.rating .scale{color:#a5a5b0}.contact input[type=email],.contact input[type=text]{background:#2c2d34;color:#ececf1;border-color:#4a4b55}.error{color:#ff8a80}.sources a{color:#9db0ff}}" +
    "</style>" +
    '<button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false" aria-controls="sc-panel"></button>' +
    '<section class="panel" id="sc-panel" role="dialog" aria-modal="true" aria-labelledby="sc-title" hidden>' +
    '<header><div><h2 id="sc-title"></h2><small>AI assistant · people on call</small></div>' +
    '<button class="close" type="button" aria-label="Close help">×</button></header>' +
    '<div class="log" role="log" aria-live="polite" aria-relevant="additions text"></div>' +
    '<form class="ask"><label class="sr" for="sc-input">Your question</label>' +
    '<textarea id="sc-input" rows="2" placeholder="Ask a question…"></textarea>' +
    '<button class="send" type="submit">Send</button></form>' +
    '<div class="foot"><button class="human" type="button">Talk to a person</button>' +
    '<span class="status" role="status" hidden></span>' +
    '<button class="restart" type="button" hidden>Start a new conversation</button></div>' +
    '<div class="rating" role="group" aria-labelledby="sc-rate" hidden><span id="sc-rate">Rate this chat:</span></div>' +
    "</section>";
  root.host.style.setProperty("--c", color);
  var launcher = root.querySelector(".launcher");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var form = root.querySelector("form.ask");
  var input = root.querySelector("textarea");
  var rating = root.querySelector(".rating");
  var human = root.querySelector(".human");
  var status = root.querySelector(".status");
  var restart = root.querySelector(".restart");
  launcher.textContent = title;
  root.querySelector("h2").textContent = title;
  RATINGS.forEach(function (label, i) {
    var b = button(String(i + 1), rate.bind(null, i + 1));
    b.setAttribute("aria-label", "Rate " + (i + 1) + " out of 5: " + label);
    b.title = label;
    rating.appendChild(b);
  });
  rating.appendChild(el("span", "scale", "(1 very poor, 5 very good)"));

  // ---- pinned to what the customer sees ----------------------------------------------------------
  // `position: fixed` is relative to the layout viewport, which a wide host page (a long <pre>)
  // makes wider than a phone's screen: the visual viewport is what is on screen, so on phones the
  // launcher and the full-screen panel are placed from it.
  function pin() {
    var vv = window.visualViewport;
    if (!vv) return;
    var phone = vv.width <= 480;
    // (innerWidth counts a desktop scrollbar that the visual viewport does not)
    var wide = vv.scale !== 1 || vv.offsetLeft || vv.offsetTop || innerWidth - vv.width > 24;
    panel.classList.toggle("phone", phone);
    if (!phone && !wide) {
      launcher.style.cssText = panel.style.cssText = "";
      return;
    }
    var lw = launcher.offsetWidth;
    var lh = launcher.offsetHeight;
    launcher.style.cssText =
      "right:auto;bottom:auto;left:" + (vv.offsetLeft + vv.width - lw - 16) + "px;top:" +
      (vv.offsetTop + vv.height - lh - 16) + "px";
    var w = phone ? vv.width : Math.min(380, vv.width - 16);
    var h = phone ? vv.height : Math.min(600, vv.height - 96);
    var left = phone ? vv.offsetLeft : vv.offsetLeft + vv.width - w - 16;
    var top = phone ? vv.offsetTop : vv.offsetTop + vv.height - h - 72;
    panel.style.cssText =
      "right:auto;bottom:auto;left:" + left + "px;top:" + top + "px;width:" + w + "px;height:" + h + "px";
  }
  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", pin);
    window.visualViewport.addEventListener("scroll", pin);
  }
  window.addEventListener("resize", pin);

  function open() {
    unread = 0;
    launcher.textContent = title;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    pin();
    log.scrollTop = log.scrollHeight; // what arrived while closed could not scroll a hidden log
    input.focus();
    if (!log.childElementCount) start();
    if (openHandoff()) startPolling();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("pointerenter", getConfig); // the greeting is ready on click
  launcher.addEventListener("focus", getConfig);
  launcher.addEventListener("click", function () {
    panel.hidden ? open() : close();
  });
  root.querySelector(".close").addEventListener("click", close);
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === "Tab") {
      // keep focus inside the open dialog
      var items = Array.prototype.filter.call(
        panel.querySelectorAll("button,textarea,input,a[href]"),
        function (x) { return !x.disabled && x.offsetParent !== null; }
      );
      var first = items[0];
      var last = items[items.length - 1];
      if (e.shiftKey && root.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && root.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : send();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    send();
  });
  human.addEventListener("click", askForHuman);
  restart.addEventListener("click", function () {
    reset();
    start();
    input.focus();
  });

  // ---- the conversation's start: greeting, AI disclosure, suggested questions ---------------------
  function getConfig() {
    if (!config) {
      config = fetch(api + "/v1/widget/config")
        .then(function (r) { return r.ok ? r.json() : {}; })
        .catch(function () { return {}; });
    }
    return config;
  }
  function start() {
    if (state.conversationId) return resume();
    var div = bubble("bot", "");
    div.classList.add("greeting");
    div.hidden = true; // in its place at the top, shown once its text is known
    return getConfig().then(function (c) {
      div.hidden = false;
      div.innerHTML = markdown(c.greeting || "Hi! Ask me anything about the product.");
      div.appendChild(el("div", "small", c.disclosure ||
        "You're chatting with an AI assistant. It can make mistakes; you can ask for a person at any time."));
      var qs = (c.suggested_questions || []).slice(0, 3);
      if (qs.length) {
        var g = group("Suggested questions", "choices");
        qs.forEach(function (q) {
          g.appendChild(button(q, function () {
            input.value = q;
            send();
          }));
        });
        div.appendChild(g);
      }
    });
  }
  function reset(note) {
    stopPolling();
    try {
      localStorage.removeItem(KEY);
    } catch (e) {}
    state = fresh();
    resumed = null;
    log.textContent = "";
    rating.hidden = true;
    showHandoff(null);
    restart.hidden = true;
    if (note) bubble("bot", markdown(note)).classList.add("system");
  }

  // ---- messages ----------------------------------------------------------------------------------
  function bubble(role, html) {
    var div = el("div", "msg " + role);
    div.innerHTML = html; // always built from escapeHtml() output
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }
  function render(m) {
    if (m.role === "user") return bubble("user", markdown(m.text));
    if (m.role === "agent") return bubble("agent", '<span class="tag">Support team</span>' + markdown(m.text));
    var div = bubble("bot", "");
    decorate(div, m);
    return div;
  }
  function decorate(div, m) {
    div.innerHTML = markdown(m.text);
    if (m.while_waiting) {
      var tag = el("span", "tag", "Automated answer while you wait for a person");
      div.insertBefore(tag, div.firstChild);
    }
    if (m.type === "answer" && m.confidence != null && m.confidence < 0.5) {
      div.appendChild(el("div", "note", "I'm not sure this is right. If it doesn't help, ask for a person."));
    }
    if (m.citations && m.citations.length) {
      var src = el("div", "sources");
      src.appendChild(document.createTextNode("Sources: "));
      m.citations.forEach(function (c, n) {
        if (n) src.appendChild(document.createTextNode(", "));
        src.appendChild(link(c.url, c.title || c.article_id));
      });
      div.appendChild(src);
    }
    var options = m.suggestions || [];
    if ((m.type === "suggest" || m.type === "clarify") && options.length) {
      div.appendChild(choices(options, m.turn_id, "Suggested articles", true));
    }
    if (m.type === "answer" && m.turn_id) {
      if (state.voted[m.turn_id]) div.appendChild(el("div", "small", "Thanks for telling us."));
      else div.appendChild(votes(m));
    }
    reveal(div);
  }
  // The newest message in view; a long one from its first line (that is where reading starts).
  function reveal(div) {
    var top = div.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    log.scrollTop = div.offsetHeight > log.clientHeight ? top - 8 : log.scrollHeight;
  }
  function link(url, text) {
    var safe = safeUrl(url || "");
    var a = el(safe ? "a" : "span", null, text);
    if (safe) {
      a.href = safe;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }
  // Articles as buttons: picking one asks the server for that article's answer (and records the
  // choice). `orPerson` adds the way out the suggest text promises.
  function choices(options, turnId, label, orPerson) {
    var g = group(label, "choices");
    var picked = state.picked[turnId];
    options.forEach(function (s) {
      var b = button(s.title || s.article_id, function () {
        pick(s, turnId, g, b);
      });
      b.setAttribute("aria-pressed", String(picked === s.article_id));
      b.disabled = !!picked;
      g.appendChild(b);
    });
    if (orPerson && !picked) g.appendChild(button("None of these: talk to a person", askForHuman));
    return g;
  }
  function votes(m) {
    var g = group("Was this helpful?");
    g.appendChild(document.createTextNode("Was this helpful? "));
    [["helpful", "Yes"], ["unhelpful", "No"], ["wrong_answer", "Wrong answer"]].forEach(function (k) {
      g.appendChild(button(k[1], function () {
        state.voted[m.turn_id] = k[0];
        save();
        g.textContent = k[0] === "helpful" ? "Thanks for telling us." : "Sorry that didn't help.";
        g.removeAttribute("role");
        var sent = feedback({ kind: k[0], turn_id: m.turn_id });
        if (k[0] !== "helpful") sent.then(function (r) { nextSteps(g, r, m.turn_id); });
      }));
    });
    return g;
  }
  // After a thumbs-down: other articles, rephrasing, or a person; never a dead end.
  function nextSteps(after, reply, turnId) {
    var box = el("div", "next");
    box.appendChild(el("div", "small", "You could try one of these:"));
    var options = (reply && reply.suggestions) || [];
    if (options.length) box.appendChild(choices(options, turnId, "Other articles", false));
    var g = group("Other next steps");
    g.appendChild(button("Rephrase my question", function () {
      input.placeholder = "Describe it another way: what you see, where…";
      input.focus();
    }));
    if (!openHandoff()) g.appendChild(button("Talk to a person", askForHuman));
    box.appendChild(g);
    after.parentNode.appendChild(box);
    var first = box.querySelector("button");
    if (first) first.focus();
    log.scrollTop = log.scrollHeight;
  }

  // ---- the API -----------------------------------------------------------------------------------
  function headers() {
    var h = { "Content-Type": "application/json" };
    if (state.token) h["X-Conversation-Token"] = state.token;
    return h;
  }
  function conv(path) {
    return api + "/v1/conversations/" + encodeURIComponent(state.conversationId) + (path || "");
  }
  function post(path, body) {
    return fetch(conv(path), { method: "POST", headers: headers(), body: JSON.stringify(body || {}) });
  }
  function context() {
    var c = {
      page: location.href,
      workspace: identity.workspace || "",
      plan: identity.plan || "",
      role: identity.role || "",
      locale: navigator.language || "",
    };
    if (identity.userId) c.user_id = identity.userId;
    if (identity.name) c.name = identity.name;
    if (identity.email) c.email = identity.email;
    return c;
  }
  function touch() {
    state.lastAt = Date.now();
    restart.hidden = false;
    save();
  }

  function send(retried) {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.placeholder = "Ask a question…";
    if (!retried) render({ role: "user", text: text });
    var div = bubble("bot", "<p>…</p>");
    div.setAttribute("aria-busy", "true");
    touch();
    var body = {
      message: text,
      conversation_id: state.conversationId || null,
      conversation_token: state.token || null,
      context: context(),
      stream: true,
    };
    if (identity.email) state.identified = true;
    var shown = "";
    var final = false;
    fetch(api + "/v1/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) })
      .then(function (r) {
        if ((r.status === 401 || r.status === 404) && state.conversationId && !retried) {
          // the stored conversation expired (or was purged): carry on in a new one
          div.remove();
          reset();
          bubble("bot", markdown("Your earlier conversation has expired, so this is a new one.")).classList.add("system");
          render({ role: "user", text: text });
          input.value = text;
          return send(true);
        }
        if (r.status === 409) throw new Error("This conversation is full. Start a new conversation to go on.");
        if (r.status === 429) throw new Error("You're sending messages quickly; try again in a moment.");
        if (!r.ok || !r.body) throw new Error("Sorry, something went wrong. Please try again.");
        var reader = r.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var events = buffer.split("\n\n");
            buffer = events.pop();
            events.forEach(function (raw) {
              var name = (raw.match(/^event: (.*)$/m) || [])[1];
              var payload = (raw.match(/^data: (.*)$/m) || [])[1];
              if (!name || !payload) return;
              var ev = JSON.parse(payload);
              if (name === "delta") {
                shown += (shown ? " " : "") + ev.text;
                div.innerHTML = markdown(shown);
              } else if (name === "final") {
                final = true;
                finish(div, ev);
              } else if (name === "error") {
                div.innerHTML = markdown(ev.error || "Sorry, something went wrong.");
              }
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) {
        div.innerHTML = markdown(err.message);
      })
      .then(function () {
        if (final || div.isConnected) div.removeAttribute("aria-busy");
      });
  }

  function finish(div, reply) {
    if (reply.conversation_token) state.token = reply.conversation_token;
    if (reply.conversation_id) state.conversationId = reply.conversation_id;
    var waiting = reply.handoff && reply.handoff.status !== "claimed";
    var m = {
      role: "bot",
      text: reply.text,
      type: reply.type,
      confidence: reply.confidence,
      citations: reply.citations || [],
      suggestions: reply.suggestions || [],
      turn_id: reply.turn_id,
      while_waiting: reply.type !== "handoff" && !!waiting && !!state.handoff,
    };
    touch();
    decorate(div, m);
    div.removeAttribute("aria-busy");
    if (reply.type === "answer") rating.hidden = false;
    showHandoff(reply.handoff || null);
  }

  // The footer shows the handoff's status in place of "Talk to a person" while one is open.
  function openHandoff() {
    return !!(state.handoff && state.handoff.id);
  }
  function showHandoff(h) {
    var was = openHandoff();
    state.handoff = h && h.id ? { id: h.id, status: h.status || "waiting" } : null;
    save();
    var now = openHandoff();
    human.hidden = now;
    status.hidden = !now;
    if (now) {
      status.textContent = state.handoff.status === "claimed"
        ? "A person from support has your conversation"
        : "Waiting for a person. You can keep asking me meanwhile.";
      if (!was) {
        askContact();
        startPolling();
      }
    } else if (was) {
      bubble("bot", markdown("Your request to support was closed. I can help again: just ask.")).classList.add("system");
      if (root.activeElement === null || root.activeElement === human) human.focus();
    }
  }

  // ---- a way back to the customer ------------------------------------------------------------------
  function askContact() {
    // Known when identify()'s email went with a message of this conversation; given later, it
    // only pre-fills the form (the server has not seen it).
    if (state.identified || state.contactKnown || state.contactAsked) return;
    state.contactAsked = true;
    save();
    var div = bubble("bot", markdown("If you like, leave your email so we can reach you if you leave before a person replies."));
    var f = el("form", "contact");
    f.setAttribute("aria-label", "How to reach you");
    f.innerHTML =
      '<label for="sc-email">Email</label>' +
      '<input id="sc-email" type="email" autocomplete="email" required>' +
      '<label for="sc-name">Name (optional)</label><input id="sc-name" type="text" autocomplete="name">' +
      '<label><input id="sc-consent" type="checkbox" required> Support may email me about this request. ' +
      "It's kept with this conversation only.</label>" +
      '<div class="row"><button type="submit">Send my email</button>' +
      '<button type="button" class="skip">No thanks</button></div><div class="error" role="alert"></div>';
    div.appendChild(f);
    var error = f.querySelector(".error");
    f.querySelector("#sc-email").value = identity.email || "";
    f.querySelector("#sc-name").value = identity.name || "";
    f.querySelector(".skip").addEventListener("click", function () {
      div.remove();
      input.focus();
    });
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var email = f.querySelector("#sc-email").value.trim();
      post("/contact", {
        email: email,
        name: f.querySelector("#sc-name").value.trim(),
        consent: f.querySelector("#sc-consent").checked,
      })
        .then(function (r) {
          return r.json().then(function (b) { return { ok: r.ok, body: b }; });
        })
        .then(function (r) {
          if (!r.ok) throw new Error(problem(r.body));
          state.contactKnown = true;
          save();
          f.remove();
          div.appendChild(el("p", null, "Thanks: we'll reply here and at " + email + "."));
          input.focus();
        })
        .catch(function (err) {
          error.textContent = err.message || "That didn't work; please check the address.";
        });
    });
    f.querySelector("#sc-email").focus();
  }
  function problem(body) {
    var d = body && (body.error || body.detail);
    if (typeof d === "string") return d;
    if (d && d.length && d[0].msg) {
      return (d[0].loc ? d[0].loc[d[0].loc.length - 1] + ": " : "") + d[0].msg.replace(/^Value error, /, "");
    }
    return "That didn't work; please check the address.";
  }

  function pick(s, turnId, g, chosen) {
    state.picked[turnId] = s.article_id;
    save();
    Array.prototype.forEach.call(g.querySelectorAll("button"), function (b) {
      b.disabled = true;
      if (b === chosen) b.setAttribute("aria-pressed", "true");
    });
    render({ role: "user", text: "Picked: " + (s.title || s.article_id) });
    var div = bubble("bot", "<p>…</p>");
    div.setAttribute("aria-busy", "true");
    post("/pick", { article_id: s.article_id, turn_id: turnId || null })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (reply) {
        finish(div, reply);
      })
      .catch(function () {
        // not pickable here (or gone): ask for it in words instead
        div.remove();
        input.value = s.title || s.article_id;
        send();
      });
  }

  function askForHuman() {
    if (!state.conversationId) {
      input.value = "I'd like to talk to a person.";
      return send();
    }
    human.disabled = true;
    post("/handoff")
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        finish(bubble("bot", ""), reply);
      })
      .then(function () { human.disabled = false; }, function () { human.disabled = false; });
  }

  function feedback(body) {
    if (!state.conversationId) return Promise.resolve(null);
    return post("/feedback", body)
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }
  function rate(n) {
    feedback({ kind: "rating", rating: n });
    state.rated = n;
    save();
    rating.removeAttribute("role");
    rating.textContent = "Thanks for rating us " + n + " out of 5 (" + RATINGS[n - 1].toLowerCase() + ").";
  }

  // ---- the server's copy: resume, and agents' replies ------------------------------------------------
  // Pages through the turns after the last one seen (`after`), so a long conversation never hides
  // a new agent reply past the first page.
  function fetchTurns(each) {
    var id = state.conversationId;
    var url = conv("?limit=200" + (state.after ? "&after=" + encodeURIComponent(state.after) : ""));
    return fetch(url, { headers: headers() }).then(function (r) {
      if (r.status === 401 || r.status === 404) throw new Error("expired");
      if (!r.ok) return null;
      return r.json().then(function (t) {
        if (id !== state.conversationId) return null; // a new conversation started meanwhile
        t.turns.forEach(each);
        if (t.turns.length) state.after = t.turns[t.turns.length - 1].turn_id || t.turns[t.turns.length - 1].id;
        if (t.contact_known) state.contactKnown = true;
        save();
        return t.next_after ? fetchTurns(each) : t;
      });
    });
  }
  function fromTurn(x) {
    var role = x.role === "assistant" ? "bot" : x.role;
    return {
      role: role,
      text: x.text,
      type: x.type,
      citations: x.citations || [],
      suggestions: x.suggestions || [],
      turn_id: x.turn_id || x.id,
      while_waiting: !!x.while_waiting,
    };
  }
  function resume() {
    if (resumed) return resumed;
    state.after = 0;
    var seen = false;
    loading = true;
    resumed = fetchTurns(function (x) {
      var m = fromTurn(x);
      render(m);
      if (m.type === "answer") seen = true;
    }).then(function (t) {
      loading = false;
      if (!t) return;
      if (seen && !state.rated) rating.hidden = false;
      restart.hidden = false;
      state.contactAsked = state.contactAsked || !!t.contact_known;
      var h = t.handoff || null;
      state.handoff = h && h.id ? state.handoff : null; // no "closed" note for an old handoff
      showHandoff(h);
      if (openHandoff()) startPolling();
    }, function () {
      loading = false;
      reset("Your earlier conversation has expired, so this is a new one.");
      start();
    });
    return resumed;
  }
  function startPolling() {
    if (polling || !state.conversationId) return;
    polling = setInterval(poll, 2000);
  }
  function stopPolling() {
    clearInterval(polling);
    polling = null;
  }
  function poll() {
    if (loading || document.hidden) return; // a background tab catches up when shown again
    if (panel.hidden && !openHandoff()) return stopPolling();
    fetchTurns(function (x) {
      if (x.role !== "agent") return;
      render(fromTurn(x));
      if (!panel.hidden) return;
      launcher.textContent = title + " · " + ++unread + " new " + (unread > 1 ? "replies" : "reply");
      pin(); // a wider launcher: placed again from the right edge
    }).then(function (t) {
      if (!t) return;
      showHandoff(t.handoff || null);
      if (!openHandoff()) stopPolling();
    }, stopPolling); // expired or gone: the next message starts a new conversation
  }

  // ---- for add-ons (proactive.js) and the host page -----------------------------------------------
  function showArticle(a) {
    if (panel.hidden) open();
    var div = bubble("bot", markdown(a.text || ""));
    var src = el("div", "sources");
    src.appendChild(document.createTextNode((a.source || "From") + ": "));
    src.appendChild(link(a.url, a.title || a.article_id));
    div.appendChild(src);
    var g = group("Was this helpful?");
    g.appendChild(document.createTextNode("Was this helpful? "));
    [["helpful", "Yes"], ["unhelpful", "No"]].forEach(function (k) {
      g.appendChild(button(k[1], function () {
        g.textContent = "Thanks for telling us.";
        if (typeof a.onFeedback === "function") a.onFeedback(k[0]);
      }));
    });
    div.appendChild(g);
    return div;
  }
  function busy() {
    return !panel.hidden || root.activeElement === input || !!input.value ||
      (!!state.lastAt && Date.now() - state.lastAt < IDLE_MS);
  }
  function copy(o) {
    return JSON.parse(JSON.stringify(o));
  }

  window.SupportCopilot = {
    loaded: true,
    open: open,
    close: close,
    identify: function (who) {
      ["userId", "name", "email", "workspace", "plan", "role"].forEach(function (k) {
        if (who && typeof who[k] === "string") identity[k] = who[k];
      });
      if (who && typeof who.consent === "boolean") identity.consent = who.consent;
    },
    _hooks: {
      showArticle: showArticle,
      busy: busy,
      who: function () { return copy(identity); },
      api: api,
      root: root,
      launcher: launcher,
    },
  };
  (document.body || document.documentElement).appendChild(host);
  pin();
  if (state.conversationId) resume();
})();
