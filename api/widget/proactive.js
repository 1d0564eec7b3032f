/* Support Copilot proactive help: product signals from the host page, and nudges by the launcher
 * (docs/proactive.md). Served after widget.js in /widget.js and built on its hooks.
 *
 *   <script src="/widget.js" data-track="on" defer></script>        tracking on for everyone
 *   SupportCopilot.identify({userId: "u-42", consent: true})          or per user, once they agree
 *   SupportCopilot.track("error_shown", {code: "SSO-102", message: "SAML error: ..."})
 *
 * Nothing is sent until tracking is on (data-track="on", or identify({consent: true})), never
 * with Do Not Track or Global Privacy Control, and never after identify({consent: false}).
 */
(function () {
  "use strict";
  var SC = window.SupportCopilot;
  if (!SC || !SC._hooks || SC.track) return;
  var hooks = SC._hooks;
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var api = hooks.api;
  var PREFIX = "support-copilot-proactive:" + api + ":";
  var LIMITS = { title: 200, code: 100, message: 500, flow: 100, step: 100, feature: 100 };
  var NAMES = ["page_view", "error_shown", "step_started", "step_completed", "step_abandoned",
    "feature_used"];
  var BATCH = 20; // the server's limit per batch (api/routes/signals.py MAX_EVENTS)
  var FLUSH_MS = 1000;
  var queue = [];
  var timer = null;
  var consent = null; // from identify(): true, false, or null (not said)
  var accountAgeDays = null;
  var pendingView = data.pageViews !== "off"; // data-page-views="off" opts out
  var nudge = null; // the nudge element on screen

  function get(key) {
    try {
      return JSON.parse(localStorage.getItem(PREFIX + key));
    } catch (e) {
      return null;
    }
  }
  function put(key, value) {
    try {
      localStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch (e) {}
  }

  function doNotTrack() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1" ||
      navigator.globalPrivacyControl === true;
  }
  function tracking() {
    if (doNotTrack() || consent === false) return false;
    return consent === true || data.track === "on";
  }
  function who() {
    return (hooks.who && hooks.who()) || {};
  }
  // The identified user, else an anonymous id kept in this browser (made only once tracking is on).
  function subject() {
    var user = who().userId;
    if (user) return ("user:" + encodeURIComponent(user)).slice(0, 128); // the server's charset
    var anon = get("anon");
    if (!anon) {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      anon = "anon-" + Array.prototype.map.call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
      put("anon", anon);
    }
    return anon;
  }
  function page() {
    return location.origin + location.pathname; // never the query string or fragment
  }
  function snoozed() {
    return get("tipsOff") === true || (get("snoozeUntil") || 0) > Date.now();
  }

  function track(name, props) {
    if (NAMES.indexOf(name) < 0) {
      if (window.console) console.warn("SupportCopilot.track: unknown signal " + name);
      return;
    }
    if (!tracking()) return; // not even queued: nothing leaves the page without consent
    var clean = {};
    Object.keys(LIMITS).forEach(function (k) {
      var v = props && props[k];
      if (typeof v === "number") v = String(v);
      if (typeof v === "string" && v) clean[k] = v.slice(0, LIMITS[k]);
    });
    queue.push({ name: name, page: page(), props: clean });
    if (queue.length > 4 * BATCH) queue.splice(0, queue.length - 4 * BATCH); // bounded
    if (queue.length >= BATCH) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  function flush(leaving) {
    clearTimeout(timer);
    timer = null;
    if (!queue.length) return;
    if (!tracking()) {
      queue = [];
      return;
    }
    var events = queue.splice(0, BATCH);
    var body = {
      subject: subject(),
      account: who().workspace || "",
      account_age_days: accountAgeDays,
      // false: no nudge now (tips off, snoozed, or the customer is busy in the widget)
      tips: !snoozed() && !hooks.busy(),
      events: events,
    };
    fetch(api + "/v1/signals", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      keepalive: !!leaving,
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (reply) {
        if (reply && reply.nudge && !leaving) show(reply.nudge);
      })
      .catch(function () {});
    if (queue.length) timer = setTimeout(flush, FLUSH_MS);
  }

  function post(path, body) {
    return fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  // ---- the nudge: small, by the launcher, dismissible; never over the page or the panel --------
  var style = document.createElement("style");
  style.textContent =
    ".nudge{position:fixed;right:16px;bottom:72px;z-index:2147483645;max-width:min(300px,calc(100vw - 32px));background:#fff;color:#1b1b1f;border:1px solid #c8c8d0;border-radius:10px;padding:10px 12px;box-shadow:0 4px 14px rgba(0,0,0,.18);font-size:13px}" +
    ".nudge p{margin:0 0 6px;font-size:13px}.nudge .why{color:#555}" +
    ".nudge .go{display:block;width:100%;text-align:left;font-size:13px;background:#f6f6f8;margin:4px 0 6px}" +
    ".nudge .row{display:flex;justify-content:space-between;gap:6px}.nudge .row button{font-size:12px;padding:2px 8px}" +
    "@media (prefers-color-scheme:dark){.nudge{background:#1e1f24;color:#ececf1;border-color:#4a4b55}.nudge .why{color:#b8b8c0}.nudge .go{background:#2c2d34}}";
  hooks.root.appendChild(style);

  function hide() {
    if (nudge) nudge.remove();
    nudge = null;
  }
  function show(n) {
    if (nudge || snoozed() || hooks.busy()) return;
    nudge = document.createElement("div");
    nudge.className = "nudge";
    nudge.setAttribute("role", "status");
    nudge.setAttribute("aria-live", "polite");
    nudge.dataset.nudge = n.id;
    nudge.dataset.article = n.article_id;
    var why = document.createElement("p");
    why.className = "why";
    why.textContent = n.reason;
    var head = document.createElement("p");
    head.textContent = n.headline;
    var go = document.createElement("button");
    go.type = "button";
    go.className = "go";
    go.textContent = n.title;
    var row = document.createElement("div");
    row.className = "row";
    var off = document.createElement("button");
    off.type = "button";
    off.className = "off";
    off.textContent = "Don't show tips";
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = "Not now";
    dismiss.setAttribute("aria-label", "Dismiss this tip");
    row.appendChild(off);
    row.appendChild(dismiss);
    [why, head, go, row].forEach(function (el) { nudge.appendChild(el); });
    var me = subject();
    go.addEventListener("click", function () {
      hide();
      post("/v1/nudges/" + encodeURIComponent(n.id) + "/open", { subject: me })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (a) {
          if (!a) return;
          hooks.showArticle({
            article_id: a.article_id,
            title: a.title,
            text: a.text,
            url: a.url,
            source: "nudge",
            onFeedback: function (kind) {
              post("/v1/nudges/" + encodeURIComponent(n.id) + "/feedback", { subject: me, kind: kind });
            },
          });
        });
    });
    function snooze() {
      put("snoozeUntil", Date.now() + (n.snooze_hours || 24) * 3600 * 1000);
      post("/v1/nudges/" + encodeURIComponent(n.id) + "/dismiss", { subject: me });
      hide();
    }
    dismiss.addEventListener("click", snooze);
    off.addEventListener("click", function () {
      put("tipsOff", true); // sticks in this browser until SupportCopilot.tips(true)
      snooze();
    });
    hooks.root.appendChild(nudge);
  }
  // The customer started using the widget: the nudge steps aside (it is not dismissed).
  setInterval(function () {
    if (nudge && hooks.busy()) hide();
  }, 500);

  function pageView() {
    if (pendingView && tracking()) {
      pendingView = false;
      track("page_view", { title: document.title });
    }
  }

  var identify = SC.identify;
  SC.identify = function (w) {
    if (w && typeof w.consent === "boolean") consent = w.consent;
    if (w && typeof w.accountAgeDays === "number") accountAgeDays = Math.max(0, Math.floor(w.accountAgeDays));
    var result = identify.apply(SC, arguments);
    if (consent === false) queue = [];
    pageView(); // consent given now: the page view of this page counts from here
    return result;
  };
  SC.track = track;
  SC.tips = function (on) {
    put("tipsOff", !on);
    if (!on) hide();
  };
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });
  pageView();
})();
