/* Field visits: the supervisors' live board (server-sent events) and the mobile field page (geolocation). */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function board(root) {
    var canAck = root.getAttribute("data-can-ack") === "1";
    var source = new EventSource(root.getAttribute("data-sse"));
    source.addEventListener("progress", function (ev) {
      var data = JSON.parse(ev.data);
      var now = document.querySelector('[data-board="now"]');
      if (now) { now.textContent = data.now; }
      var box = root.querySelector('[data-board="alarms"]');
      box.replaceChildren();
      if (!data.alarms.length) { box.appendChild(text("p", box.getAttribute("data-empty") || "—", "empty")); }
      data.alarms.forEach(function (a) {
        var div = text("div", "", "alert alert-danger alarm" + (a.to_me ? " alarm-mine" : ""));
        div.setAttribute("data-alarm", a.id);
        div.setAttribute("data-kind", a.kind);
        div.setAttribute("data-level", a.level);
        if (a.to_me) {
          var mine = text("b", root.getAttribute("data-to-me"));
          mine.setAttribute("data-testid", "to-me");
          div.appendChild(mine);
          div.appendChild(document.createTextNode(" · "));
        }
        div.appendChild(text("b", a.kind_label));
        var where = (a.lat !== null && a.lat !== undefined) ? " · " + a.lat.toFixed(5) + ", " + a.lon.toFixed(5) : "";
        div.appendChild(document.createTextNode(" · " + root.getAttribute("data-visit-word") + " #" + a.visit_id +
          " · " + a.address + " · " + a.raised_by + " " + a.raised_at + " · " + a.level_label + where + " "));
        if (a.alerts && a.alerts.length) {
          var sent = text("div", root.getAttribute("data-alerts-word") + ": " + a.alerts.map(function (x) {
            return x.recipient + " " + x.state_label;
          }).join("；"), "muted");
          sent.setAttribute("data-testid", "alarm-alerts");
          div.appendChild(sent);
        }
        if (canAck) {
          var form = document.createElement("form");
          form.method = "post"; form.action = "/visits/alarms/" + a.id + "/ack"; form.className = "inline";
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = "csrf_token"; hidden.value = root.getAttribute("data-csrf");
          form.appendChild(hidden);
          form.appendChild(text("button", root.getAttribute("data-ack-word"), "btn"));
          div.appendChild(form);
        }
        box.appendChild(div);
      });
      var body = root.querySelector('[data-board="visits"]');
      body.replaceChildren();
      data.visits.forEach(function (v) {
        var tr = document.createElement("tr");
        if (v.overdue) { tr.className = "overdue"; }
        var first = document.createElement("td");
        var a = text("a", "#" + v.id); a.href = "/visits/" + v.id; first.appendChild(a); tr.appendChild(first);
        [v.window, v.address, v.members.join("、"), v.state_label, v.last_checkin, v.next_due + (v.overdue ? " ⚠" : "")]
          .forEach(function (x) { tr.appendChild(text("td", x)); });
        body.appendChild(tr);
      });
    });
  }

  function field(root) {
    var id = root.getAttribute("data-visit");
    var status = document.getElementById("field-status");
    function say(msg, ok) { status.textContent = msg; status.className = ok ? "ok" : "err"; }
    function post(path, body) {
      return fetch("/field/visits/" + id + "/" + path, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) {
            var e = j.error || {};
            say(document.documentElement.lang === "en" ? e.message_en : e.message_zh, false);
            return null;
          }
          say(j.message, true);
          var badge = document.querySelector('[data-testid="field-state"]');
          if (badge && j.state && j.state !== "sos") { badge.textContent = j.state_label; }
          return j;
        });
      }).catch(function () { say("网络异常，请重试 / network error, retry", false); });
    }
    function located(then) {
      if (!navigator.geolocation) { then({}); return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        then({lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy});
      }, function () { then({}); }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 0});
    }
    root.querySelectorAll("[data-action]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var action = btn.getAttribute("data-action");
        located(function (where) {
          if (action === "checkin") {
            where.checklist = Array.prototype.map.call(
              root.querySelectorAll('input[name="checklist"]:checked'), function (c) { return c.value; });
            where.recording = document.getElementById("recording").checked;
          } else if (action === "outcome") {
            where.outcome = document.getElementById("outcome").value;
            where.notes = document.getElementById("notes").value;
            where.promise_on = document.getElementById("promise-on").value || null;
            var amount = document.getElementById("promise-amount").value;
            where.promise_amount = amount ? Number(amount) : null;
          }
          post(action, where);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("visit-board");
    if (b) { board(b); }
    var f = document.getElementById("field-visit");
    if (f) { field(f); }
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
