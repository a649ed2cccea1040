// JSON and SQL editors of the admin forms: JSON is checked as it is typed (the server checks it
// again on save), Tab indents inside SQL and JSON instead of leaving the field.
(function () {
  "use strict";

  function checkJson(area) {
    const error = area.parentElement.querySelector(".json-editor-error");
    if (!error) return;
    const text = area.value.trim();
    if (text === "") {
      error.hidden = true;
      return;
    }
    try {
      JSON.parse(text);
      error.hidden = true;
      area.removeAttribute("aria-invalid");
    } catch (exc) {
      error.textContent = "Not valid JSON yet: " + exc.message;
      error.hidden = false;
      area.setAttribute("aria-invalid", "true");
    }
  }

  function indentOnTab(event) {
    if (event.key !== "Tab" || event.shiftKey) return;
    const area = event.target;
    event.preventDefault();
    const start = area.selectionStart;
    area.setRangeText("  ", start, area.selectionEnd, "end");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-json-editor]").forEach(function (area) {
      area.addEventListener("input", function () { checkJson(area); });
      area.addEventListener("keydown", indentOnTab);
    });
    document.querySelectorAll("textarea[data-sql-editor]").forEach(function (area) {
      area.addEventListener("keydown", indentOnTab);
    });
  });
})();
