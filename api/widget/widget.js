/* Support Copilot help widget: one script tag, no dependencies, no build step.
 *
 *   <script src="https://support.example.com/widget.js" data-title="Help" data-color="#3451b2"
 *           data-plan="business" defer></script>
 *   window.SupportCopilot.identify({workspace: "acme", plan: "business", role: "admin"})
 *
 * Everything lives in a shadow root: the host page's CSS cannot reach in, ours cannot leak out.
 * Text from the copilot, the KB or an agent is escaped first and only then formatted, so no HTML
 * from them is ever parsed as markup.
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
  var state = load();
  var polling = null;

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY)) || { messages: [] };
    } catch (e) {
      return { messages: [] };
    }
  }
  function save() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify(state));
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
    ".panel{position:fixed;right:16px;bottom:72px;z-index:2147483647;width:min(380px,calc(100vw - 16px));height:min(560px,calc(100vh - 96px));display:flex;flex-direction:column;background:#fff;color:#1b1b1f;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden}" +
    "@media (max-width:420px){.panel{right:8px;left:8px;width:auto}}" +
    ".panel[hidden]{display:none}" +
    "header{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;background:var(--c);color:#fff}" +
    "header h2{margin:0;font-size:16px}" +
    "button{cursor:pointer;border-radius:8px;border:1px solid #c8c8d0;background:#f6f6f8;color:inherit;padding:6px 10px}" +
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #f5b700;outline-offset:2px}" +
    "header button{background:transparent;border:0;color:#fff;font-size:20px;padding:0 6px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}" +
    ".msg{max-width:88%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere}" +
    ".msg p{margin:0 0 6px}.msg p:last-child{margin:0}.msg ol,.msg ul{margin:4px 0;padding-left:20px}" +
    ".user{align-self:flex-end;background:var(--c);color:#fff}" +
    ".bot{align-self:flex-start;background:#f0f0f4}" +
    ".agent{align-self:flex-start;background:#e6f4ea;border:1px solid #9bd3ad}" +
    ".note{font-size:13px;color:#8a4b00;margin-top:6px}" +
    ".sources{font-size:13px;margin-top:6px}.sources a{color:var(--c)}" +
    ".actions{display:flex;gap:6px;flex-wrap:wrap;margin-top:6px}.actions button{font-size:13px;padding:3px 8px}" +
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e2e2e8}" +
    "textarea{flex:1;resize:none;border:1px solid #c8c8d0;border-radius:8px;padding:8px;background:inherit;color:inherit}" +
    ".send{background:var(--c);color:#fff;border:0}" +
    ".foot{display:flex;justify-content:space-between;align-items:center;gap:6px;padding:0 10px 10px;font-size:13px}" +
    ".rating button{padding:2px 7px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (prefers-color-scheme:dark){.panel{background:#1e1f24;color:#ececf1}.bot{background:#2c2d34}.agent{background:#1f3a2a;border-color:#2f6b45}button{background:#2c2d34;border-color:#4a4b55}.note{color:#ffb454}}" +
    "</style>" +
    '<button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false" aria-controls="sc-panel"></button>' +
    '<section class="panel" id="sc-panel" role="dialog" aria-modal="true" aria-labelledby="sc-title" hidden>' +
    '<header><h2 id="sc-title"></h2><button class="close" type="button" aria-label="Close help">×</button></header>' +
    '<div class="log" role="log" aria-live="polite" aria-relevant="additions text"></div>' +
    '<form><label class="sr" for="sc-input">Your question</label>' +
    '<textarea id="sc-input" rows="2" placeholder="Ask a question…"></textarea>' +
    '<button class="send" type="submit">Send</button></form>' +
    '<div class="foot"><button class="human" type="button">Talk to a person</button>' +
    '<span class="rating" role="group" aria-label="Rate this conversation" hidden></span></div>' +
    "</section>";
  root.host.style.setProperty("--c", color);
  var launcher = root.querySelector(".launcher");
  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var form = root.querySelector("form");
  var input = root.querySelector("textarea");
  var rating = root.querySelector(".rating");
  launcher.textContent = title;
  root.querySelector("h2").textContent = title;
  for (var i = 1; i <= 5; i++) {
    var star = document.createElement("button");
    star.type = "button";
    star.textContent = String(i);
    star.setAttribute("aria-label", "Rate " + i + " out of 5");
    star.addEventListener("click", rate.bind(null, i));
    rating.appendChild(star);
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
    if (state.handedOff) startPolling();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
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
        panel.querySelectorAll("button,textarea,a[href]"),
        function (el) { return !el.disabled && el.offsetParent !== null; }
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
  root.querySelector(".human").addEventListener("click", askForHuman);

  // ---- messages ----------------------------------------------------------------------------------
  function bubble(role, html) {
    var div = document.createElement("div");
    div.className = "msg " + role;
    div.innerHTML = html; // always built from escapeHtml() output
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }
  function render(m) {
    if (m.role === "user") return bubble("user", markdown(m.text));
    if (m.role === "agent") return bubble("agent", "<strong>Support:</strong> " + markdown(m.text));
    var div = bubble("bot", markdown(m.text));
    decorate(div, m);
    return div;
  }
  function decorate(div, m) {
    if (m.type === "answer" && m.confidence < 0.5) {
      var note = document.createElement("div");
      note.className = "note";
      note.textContent = "I'm not sure this is right. If it doesn't help, ask for a person.";
      div.appendChild(note);
    }
    if (m.citations && m.citations.length) {
      var src = document.createElement("div");
      src.className = "sources";
      src.appendChild(document.createTextNode("Sources: "));
      m.citations.forEach(function (c, n) {
        var url = safeUrl(c.url || "");
        var el = document.createElement(url ? "a" : "span");
        if (url) {
          el.href = url;
          el.target = "_blank";
          el.rel = "noopener noreferrer";
        }
        el.textContent = c.title || c.article_id;
        if (n) src.appendChild(document.createTextNode(", "));
        src.appendChild(el);
      });
      div.appendChild(src);
    }
    if (m.type === "answer" && m.turn_id && !m.voted) {
      var actions = document.createElement("div");
      actions.className = "actions";
      actions.setAttribute("role", "group");
      actions.setAttribute("aria-label", "Was this helpful?");
      actions.appendChild(document.createTextNode("Was this helpful? "));
      [["helpful", "Yes"], ["unhelpful", "No"], ["wrong_answer", "Wrong answer"]].forEach(function (k) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = k[1];
        b.addEventListener("click", function () {
          feedback({ kind: k[0], turn_id: m.turn_id });
          m.voted = true;
          save();
          actions.textContent = "Thanks for telling us.";
        });
        actions.appendChild(b);
      });
      div.appendChild(actions);
    }
  }
  function remember(m) {
    state.messages.push(m);
    state.lastAt = Date.now(); // proactive.js stays quiet for 10 minutes after a message
    save();
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    if (state.token) h["X-Conversation-Token"] = state.token;
    return h;
  }
  function context() {
    return {
      page: location.href,
      workspace: identity.workspace || "",
      plan: identity.plan || "",
      role: identity.role || "",
      locale: navigator.language || "",
    };
  }

  function send() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    var mine = { role: "user", text: text };
    remember(mine);
    render(mine);
    var div = bubble("bot", "<p>…</p>");
    div.setAttribute("aria-busy", "true");
    var body = {
      message: text,
      conversation_id: state.conversationId || null,
      conversation_token: state.token || null,
      context: context(),
      stream: true,
    };
    var shown = "";
    fetch(api + "/v1/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) })
      .then(function (r) {
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
        div.removeAttribute("aria-busy");
      });
  }

  function finish(div, reply) {
    if (reply.conversation_token) state.token = reply.conversation_token;
    state.conversationId = reply.conversation_id;
    var m = {
      role: "bot",
      text: reply.text,
      type: reply.type,
      confidence: reply.confidence,
      citations: reply.citations || [],
      turn_id: reply.turn_id,
    };
    remember(m);
    div.innerHTML = markdown(m.text);
    decorate(div, m);
    if (reply.type === "answer") rating.hidden = false;
    if (reply.type === "handoff") handedOff();
    log.scrollTop = log.scrollHeight;
  }

  function handedOff() {
    state.handedOff = true;
    save();
    startPolling();
  }

  function askForHuman() {
    if (!state.conversationId) {
      input.value = "I'd like to talk to a person.";
      return send();
    }
    fetch(api + "/v1/conversations/" + encodeURIComponent(state.conversationId) + "/handoff", {
      method: "POST",
      headers: headers(),
    })
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        var div = bubble("bot", "");
        finish(div, reply);
      });
  }

  function feedback(body) {
    if (!state.conversationId) return;
    fetch(api + "/v1/conversations/" + encodeURIComponent(state.conversationId) + "/feedback", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(body),
    });
  }
  function rate(n) {
    feedback({ kind: "rating", rating: n });
    rating.textContent = "Thanks for rating us " + n + " out of 5.";
  }

  // After a handoff, agents' replies arrive by polling the transcript.
  function startPolling() {
    if (polling || !state.conversationId) return;
    polling = setInterval(poll, 2000);
    poll();
  }
  // Pages through the turns after the last one seen (`after`), so a long conversation never
  // hides a new agent reply past the first page.
  function poll() {
    var url = api + "/v1/conversations/" + encodeURIComponent(state.conversationId) +
      "?limit=200" + (state.after ? "&after=" + encodeURIComponent(state.after) : "");
    fetch(url, { headers: headers() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) {
        if (!t) return;
        t.turns.forEach(function (x) {
          if (x.role !== "agent") return;
          var m = { role: "agent", text: x.text };
          remember(m);
          render(m);
        });
        if (t.turns.length) state.after = t.turns[t.turns.length - 1].id;
        save();
        if (t.next_after) poll();
      });
  }

  state.messages.forEach(render);
  if (state.messages.some(function (m) { return m.type === "answer"; })) rating.hidden = false;

  window.SupportCopilot = {
    loaded: true,
    open: open,
    close: close,
    identify: function (who) {
      ["workspace", "plan", "role", "userId", "name", "email"].forEach(function (k) {
        if (who && typeof who[k] === "string") identity[k] = who[k];
      });
      if (who && typeof who.consent === "boolean") identity.consent = who.consent;
    },
  };

  // ---- hooks for api/widget/proactive.js (the smallest version; issue 17 owns the full one) ----
  function showArticle(a) {
    open();
    var div = bubble("bot", markdown(a.text));
    decorate(div, { citations: [{ article_id: a.article_id, title: a.title, url: a.url }] });
    var actions = document.createElement("div");
    actions.className = "actions";
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", "Was this helpful?");
    actions.appendChild(document.createTextNode("Was this helpful? "));
    [["helpful", "Yes"], ["unhelpful", "No"]].forEach(function (k) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = k[1];
      b.addEventListener("click", function () {
        if (a.onFeedback) a.onFeedback(k[0]);
        actions.textContent = "Thanks for telling us.";
      });
      actions.appendChild(b);
    });
    div.appendChild(actions);
  }
  window.SupportCopilot._hooks = {
    api: api,
    root: root,
    launcher: launcher,
    showArticle: showArticle,
    who: function () { return identity; },
    busy: function () {
      return !panel.hidden || root.activeElement === input || !!input.value.trim() ||
        Date.now() - (state.lastAt || 0) < 10 * 60 * 1000;
    },
  };
  (document.body || document.documentElement).appendChild(host);
  if (state.handedOff) startPolling();
})();
