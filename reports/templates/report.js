{% raw %}
// The sample explorer's filters. The script only reads `data-*` attributes
// and text, and toggles `hidden` and classes: it never writes markup, so no
// model text can become code here.
(function () {
  "use strict";
  var table = document.getElementById("explorer");
  if (!table) { return; }
  var byId = function (id) { return document.getElementById(id); };
  var search = byId("f-text"), variant = byId("f-variant"), metric = byId("f-metric");
  var failures = byId("f-failures"), variantA = byId("f-a"), variantB = byId("f-b");
  var showDiff = byId("f-diff"), shown = byId("shown");
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr.sample"));
  var texts = null; // each row's lower-cased text, read at the first search

  function all(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }

  // An error, an invalid score or a failed pass/fail score (of `metric`, or of any metric).
  function failed(task, metricName) {
    if (task.dataset.error === "1") { return true; }
    return all(task, "li.score").some(function (s) {
      return (metricName === "" || s.dataset.metric === metricName) &&
        (s.dataset.state === "fail" || s.dataset.state === "invalid");
    });
  }

  function cellOf(row, name) {
    return all(row, "td.cell").filter(function (c) { return c.dataset.variant === name; })[0] || null;
  }

  // What a variant's answers to a sample scored, as one comparable string:
  // the picked metric, or every quality metric (not latency or cost).
  function signature(cell, metricName) {
    if (!cell) { return "missing"; }
    return all(cell, ".task").map(function (task) {
      if (task.dataset.error === "1") { return "error"; }
      return all(task, "li.score").filter(function (s) {
        return metricName === "" ? s.dataset.quality === "1" : s.dataset.metric === metricName;
      }).map(function (s) {
        return s.dataset.metric + "=" + (s.dataset.state === "invalid" ? "invalid" : s.dataset.value);
      }).join(" ");
    }).join(" | ");
  }

  function apply() {
    var query = search.value.trim().toLowerCase();
    var v = variant.value, m = metric.value, onlyFailures = failures.checked;
    var a = variantA.value, b = variantB.value, compare = a !== "" && b !== "" && a !== b;
    if (query !== "" && texts === null) {
      texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    }
    var count = 0;
    rows.forEach(function (row, i) {
      var ok = query === "" || texts[i].indexOf(query) !== -1;
      if (ok && onlyFailures) {
        ok = all(row, "td.cell").some(function (cell) {
          return (v === "" || cell.dataset.variant === v) &&
            all(cell, ".task").some(function (task) { return failed(task, m); });
        });
      }
      if (ok && compare) { ok = signature(cellOf(row, a), m) !== signature(cellOf(row, b), m); }
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    all(table, "[data-variant]").forEach(function (el) { el.hidden = v !== "" && el.dataset.variant !== v; });
    all(table, "li.score").forEach(function (s) { s.hidden = m !== "" && s.dataset.metric !== m; });
    shown.textContent = String(count);
  }

  search.addEventListener("input", apply);
  [variant, metric, failures, variantA, variantB].forEach(function (el) { el.addEventListener("change", apply); });
  showDiff.addEventListener("change", function () { table.classList.toggle("no-diff", !showDiff.checked); });
  // A reload may restore the controls' values: show what they say.
  apply();
  table.classList.toggle("no-diff", !showDiff.checked);
})();
{% endraw %}
