/* "Add another channel": copies the empty channel row (its <template>) with the next form number
   and counts it in the formset's TOTAL_FORMS. Without scripts the page keeps one empty row. Also
   hides a row's secret fields unless its type is a webhook. */
(function () {
  "use strict";

  function showWebhookFields(row) {
    const type = row.querySelector("select[name$='-type']");
    if (!type) return;
    const webhook = type.value === "webhook";
    row.querySelectorAll("[data-webhook-only]").forEach(function (node) {
      node.hidden = !webhook;
    });
  }

  function setUp(rows) {
    const prefix = rows.dataset.prefix;
    const total = rows.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    const list = rows.querySelector("[data-channel-list]");
    const empty = rows.querySelector("template[data-channel-empty]");
    const add = rows.querySelector("#channel-add");
    rows.querySelectorAll("[data-channel-row]").forEach(showWebhookFields);
    rows.addEventListener("change", function (event) {
      const row = event.target.closest("[data-channel-row]");
      if (row && event.target.name && event.target.name.endsWith("-type")) showWebhookFields(row);
    });
    if (!total || !list || !empty || !add) return;
    add.hidden = false;
    add.addEventListener("click", function () {
      const number = parseInt(total.value, 10) || 0;
      const html = empty.innerHTML.replace(/__prefix__/g, String(number));
      const holder = document.createElement("div");
      holder.innerHTML = html.trim();
      const row = holder.firstElementChild;
      list.appendChild(row);
      total.value = String(number + 1);
      showWebhookFields(row);
      const target = row.querySelector("input[name$='-target']");
      if (target) target.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-channel-rows]").forEach(setUp);
  });
})();
