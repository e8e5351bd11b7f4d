/* dunning console: live figures over server-sent events, job progress, confirmations. No framework. */
(function () {
  "use strict";
  var fmt = function (n) { return (typeof n === "number") ? n.toLocaleString("zh-CN") : String(n); };

  function fill(root, data) {
    var fields = {
      done: data.done, to_send: data.to_send, delivered: data.delivered, failed: data.failed,
      accepted: data.accepted, suppressed: data.suppressed,
      rate_sent: data.rates ? data.rates.sent : undefined,
      rate_delivered: data.rates ? data.rates.delivered : undefined,
      rate_failed: data.rates ? data.rates.failed : undefined
    };
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var key = el.getAttribute("data-field");
      if (key === "bar") { el.style.width = (data.pct || 0) + "%"; return; }
      if (fields[key] !== undefined) { el.textContent = fmt(fields[key]); }
    });
  }

  function followCampaigns(el) {
    var url = el.getAttribute("data-sse");
    var expect = el.getAttribute("data-reload-on-change");
    var source = new EventSource(url);
    source.addEventListener("progress", function (ev) {
      var data = JSON.parse(ev.data);
      var list = data.campaigns || [data];
      list.forEach(function (c) {
        document.querySelectorAll('.progress-block[data-campaign="' + c.campaign_id + '"]').forEach(function (b) { fill(b, c); });
        document.querySelectorAll('[data-campaign-state="' + c.campaign_id + '"]').forEach(function (b) {
          b.textContent = c.state_label || c.state_zh; b.className = "badge state-" + c.state;
        });
      });
      if (!data.campaigns) { fill(el, data); }
      if (expect !== null && !data.campaigns) {
        var now = data.state + "|" + (data.job ? data.job.state : "");
        if (now !== expect) { source.close(); window.setTimeout(function () { window.location.reload(); }, 300); }
      }
    });
    source.addEventListener("end", function () { source.close(); });
  }

  function followJob(el) {
    var source = new EventSource(el.getAttribute("data-job-sse"));
    var q = function (name) { return el.querySelector('[data-job="' + name + '"]'); };
    source.addEventListener("progress", function (ev) {
      var job = JSON.parse(ev.data);
      var bar = q("bar");
      if (job.total) { bar.classList.remove("indeterminate"); bar.style.width = (job.pct || 0) + "%"; }
      if (job.stage) { q("stage").textContent = job.stage; }
      q("count").textContent = job.total ? fmt(job.done) + " / " + fmt(job.total) : "";
      q("state").textContent = job.state_label || job.state;
      if (job.state === "failed" && job.error) {
        var err = q("error"); err.hidden = false; err.textContent = job.error_text || job.error.message_zh;
        if (q("hint")) { q("hint").hidden = true; }
        if (q("failed-hint")) { q("failed-hint").hidden = false; }
      }
      if (job.state === "done") {
        bar.classList.remove("indeterminate"); bar.style.width = "100%";
        if (job.result_url) {
          var r = q("result"); r.hidden = false; r.querySelector("a").href = job.result_url;
          source.close(); window.setTimeout(function () { window.location.href = job.result_url; }, 400);
        }
      }
    });
    source.addEventListener("end", function () { source.close(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sse]").forEach(followCampaigns);
    document.querySelectorAll("[data-job-sse]").forEach(followJob);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (ev) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  });
})();
