// The SQL console: runs SQL through the query API with the admin session, pages the result from
// the stored file, cancels, exports, saves, and charts the current page. Opened for a saved query,
// it also shows that query's result history with the run it made marked, and keeps that run in the
// page's address (?result=<id>) so that a reload shows it again instead of running it again.
(function () {
  "use strict";
  var root = document.getElementById("sql-console");
  if (!root) return;
  var PAGE = 100;
  var $ = function (id) { return document.getElementById(id); };
  var csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  var state = { result: null, offset: 0, columns: [], rows: [], polling: null, savedRun: root.dataset.thisRun || null, historyStatus: null };

  function api(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "X-CSRFToken": csrf, "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function showError(code, message) {
    var box = $("console-error");
    box.hidden = false;
    box.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = code;
    strong.id = "error-code";
    box.appendChild(strong);
    box.appendChild(document.createTextNode(": " + message));
  }

  function clearError() { $("console-error").hidden = true; }
  function setStatus(text) { $("console-status").textContent = text; }

  function errorsOf(data) {
    var first = (data.errors || [])[0] || {};
    return { code: first.code || "error", message: (first.attr ? first.attr + ": " : "") + (first.detail || "request failed") };
  }

  function run() {
    clearError();
    var parameters;
    try { parameters = JSON.parse($("sql-parameters").value || "{}"); }
    catch (e) { showError("syntax_error", "parameters are not valid JSON"); return; }
    var body = { sql: $("sql-editor").value, parameters: parameters, mode: $("sql-mode").value, force: $("sql-force").checked };
    var url = root.dataset.executeUrl;
    var ofSavedQuery = Boolean(root.dataset.savedId && body.sql === state.savedSql);
    if (ofSavedQuery) {
      url = root.dataset.savedUrl + root.dataset.savedId + "/execute/";
      delete body.sql;
    }
    setStatus("Running…");
    $("run-button").disabled = true;
    api("POST", url, body).then(function (reply) {
      if (reply.status >= 400) {
        $("run-button").disabled = false;
        setStatus("");
        var e = errorsOf(reply.data);
        showError(e.code, e.message);
        return;
      }
      if (ofSavedQuery && root.dataset.historyUrl) {
        state.savedRun = reply.data.id;
        state.historyStatus = null;
        remember(reply.data.id);
      }
      follow(reply.data);
    });
  }

  function remember(resultId) {
    var params = new URLSearchParams(window.location.search);
    params.delete("run");
    params.set("result", resultId);
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
  }

  // The history is the server's own table (same visibility, same look as on the saved query's
  // page), fetched again whenever the run this page made changes state.
  function refreshHistory() {
    var box = $("result-history");
    if (!box || !root.dataset.historyUrl) return;
    var url = root.dataset.historyUrl + (state.savedRun ? "?this_run=" + encodeURIComponent(state.savedRun) : "");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) box.innerHTML = html; });
  }

  function show(resultId) {
    api("GET", root.dataset.resultsUrl + encodeURIComponent(resultId) + "/").then(function (reply) {
      if (reply.status >= 400) { var e = errorsOf(reply.data); showError(e.code, e.message); return; }
      follow(reply.data);
    });
  }

  function follow(result) {
    state.result = result;
    if (result.id === state.savedRun && result.status !== state.historyStatus) {
      state.historyStatus = result.status;
      refreshHistory();
    }
    if (result.status === "queued" || result.status === "running") {
      $("cancel-button").disabled = false;
      setStatus("Result " + result.id + " is " + result.status + "…");
      state.polling = setTimeout(function () {
        api("GET", result.links.detail).then(function (reply) { follow(reply.data); });
      }, 500);
      return;
    }
    $("cancel-button").disabled = true;
    $("run-button").disabled = false;
    if (result.status !== "succeeded") {
      setStatus("Result " + result.status + (result.duration_ms != null ? " after " + result.duration_ms + " ms" : ""));
      showError(result.error_code || result.status, result.error_message || "");
      return;
    }
    setStatus("");
    $("result-area").hidden = false;
    $("result-summary").textContent = result.row_count + " rows in " + result.duration_ms + " ms";
    ["parquet", "csv", "json"].forEach(function (kind) { $("download-" + kind).href = result.links.download + "?as=" + kind; });
    page(0);
  }

  function page(offset) {
    api("GET", state.result.links.rows + "?offset=" + offset + "&limit=" + PAGE).then(function (reply) {
      if (reply.status >= 400) { var e = errorsOf(reply.data); showError(e.code, e.message); return; }
      state.offset = offset;
      state.columns = reply.data.columns;
      state.rows = reply.data.rows;
      render(reply.data);
    });
  }

  // Cells carry the theme's changelist classes (from the page), so the result reads like any list.
  function render(data) {
    var table = $("result-table"), head = table.tHead, look = root.dataset;
    head.innerHTML = "";
    Array.prototype.slice.call(table.tBodies).forEach(function (body) { body.remove(); });
    var tr = head.insertRow();
    data.columns.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c.name;
      th.title = c.type;
      th.className = look.headerClass;
      th.scope = "col";
      tr.appendChild(th);
    });
    data.rows.forEach(function (row, index) {
      var body = table.createTBody();
      body.className = look.rowGroupClass + (index % 2 ? " " + look.stripeClass : "");
      var r = body.insertRow();
      r.className = look.rowClass;
      row.forEach(function (value, column) {
        var cell = r.insertCell();
        cell.className = look.cellClass;
        cell.dataset.label = data.columns[column].name;
        cell.textContent = value === null ? "NULL" : String(value);
      });
    });
    var last = Math.min(data.offset + data.rows.length, data.row_count);
    $("page-info").textContent = data.row_count ? "rows " + (data.offset + 1) + " to " + last + " of " + data.row_count : "no rows";
    $("prev-page").disabled = !data.previous;
    $("next-page").disabled = !data.next;
    [$("chart-x"), $("chart-y")].forEach(function (select, index) {
      select.innerHTML = "";
      data.columns.forEach(function (c, i) {
        var option = document.createElement("option");
        option.value = String(i);
        option.textContent = c.name;
        if (i === Math.min(index, data.columns.length - 1)) option.selected = true;
        select.appendChild(option);
      });
    });
  }

  function chart() {
    var x = Number($("chart-x").value), y = Number($("chart-y").value);
    var points = state.rows
      .map(function (row) { return { x: row[x], y: Number(row[y]) }; })
      .filter(function (p) { return isFinite(p.y); });
    window.drawChart($("chart"), points, $("chart-kind").value);
  }

  function cancel() {
    if (!state.result) return;
    api("POST", state.result.links.cancel).then(function (reply) {
      if (reply.status < 400) setStatus("Cancelled");
    });
  }

  function save() {
    clearError();
    var body = { name: $("save-name").value, query: $("sql-editor").value, visibility: $("save-visibility").value };
    api("POST", root.dataset.savedUrl, body).then(function (reply) {
      if (reply.status >= 400) { var e = errorsOf(reply.data); showError(e.code, e.message); return; }
      root.dataset.savedId = reply.data.id;
      state.savedSql = body.query;
      setStatus("Saved as “" + reply.data.name + "”");
    });
  }

  document.querySelectorAll("#console-datasets summary").forEach(function (summary) {
    summary.addEventListener("dblclick", function () {
      $("sql-editor").value = "SELECT * FROM " + summary.dataset.name + " LIMIT 100";
    });
  });
  $("run-button").addEventListener("click", run);
  $("cancel-button").addEventListener("click", cancel);
  $("prev-page").addEventListener("click", function () { page(Math.max(state.offset - PAGE, 0)); });
  $("next-page").addEventListener("click", function () { page(state.offset + PAGE); });
  $("chart-button").addEventListener("click", chart);
  if ($("save-button")) $("save-button").addEventListener("click", save);
  state.savedSql = root.dataset.savedId ? $("sql-editor").value : null;
  if (root.dataset.autorun) run();
  else if (state.savedRun) show(state.savedRun);
})();
