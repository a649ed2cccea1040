// The guided builder of an alert condition. The JSON box stays the field that is posted: the
// builder writes into it on every change, and reads it when it can show it whole. What it cannot
// show (nested all/any/not, values it has no input for) stays in the JSON view, untouched.
(function () {
  "use strict";

  const KEYS = ["dataset", "where", "sql", "confirmations", "severity", "dedupe", "payload", "silenced_until"];
  const LEAF_KEYS = ["column", "op", "value"];
  const NEW_ROW_OP = { string: "eq", integer: "gte", number: "gte", timestamp: "gte", boolean: "eq", other: "is_null" };

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function isScalar(value) {
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
  }

  // Whether a leaf's value has inputs in the builder for its op.
  function valueFits(op, value) {
    if (op === "is_null") return value === undefined || value === null || typeof value === "boolean";
    if (op === "in" || op === "not_in") {
      return Array.isArray(value) && value.every(function (v) {
        return isScalar(v) && !(typeof v === "string" && v.indexOf(",") >= 0);
      });
    }
    if (op === "between") return Array.isArray(value) && value.length === 2 && value.every(isScalar);
    return isScalar(value);
  }

  // The builder's state of a condition, or {problem} saying why it cannot show it.
  function parseCondition(condition, ops) {
    if (!isObject(condition)) return { problem: "the condition is not a JSON object" };
    const unknown = Object.keys(condition).filter(function (k) { return KEYS.indexOf(k) < 0; });
    if (unknown.length) return { problem: "it has keys the builder does not know (" + unknown.join(", ") + ")" };
    if ("where" in condition && "sql" in condition) return { problem: "it has both where and sql" };
    const state = {
      dataset: typeof condition.dataset === "string" ? condition.dataset : "",
      mode: "sql" in condition ? "sql" : "where",
      combinator: "all",
      rows: [],
      sql: typeof condition.sql === "string" ? condition.sql : "",
      severity: condition.severity === undefined ? "warning" : condition.severity,
      confirmations: condition.confirmations === undefined ? 0 : condition.confirmations,
      dedupe: condition.dedupe === undefined ? [] : condition.dedupe,
      payload: condition.payload === undefined ? [] : condition.payload,
      keep: {},
    };
    if (condition.dataset !== undefined && typeof condition.dataset !== "string") return { problem: "its dataset is not a name" };
    if ("sql" in condition && typeof condition.sql !== "string") return { problem: "its sql is not text" };
    if (typeof state.severity !== "string") return { problem: "its severity is not text" };
    if (!Number.isInteger(state.confirmations) || state.confirmations < 0) return { problem: "its confirmations are not a whole number" };
    const lists = [state.dedupe, state.payload];
    if (!lists.every(function (l) { return Array.isArray(l) && l.every(function (c) { return typeof c === "string"; }); })) {
      return { problem: "its dedupe or payload is not a list of column names" };
    }
    if ("silenced_until" in condition) state.keep.silenced_until = condition.silenced_until;
    if ("where" in condition) {
      let where = condition.where;
      let leaves;
      if (isObject(where) && Object.keys(where).length === 1 && ("all" in where || "any" in where)) {
        state.combinator = "all" in where ? "all" : "any";
        leaves = where[state.combinator];
        if (!Array.isArray(leaves)) return { problem: "its " + state.combinator + " is not a list" };
      } else {
        leaves = [where];
      }
      for (const leaf of leaves) {
        const isLeaf = isObject(leaf) && typeof leaf.column === "string" && ops.indexOf(leaf.op) >= 0 &&
          Object.keys(leaf).every(function (k) { return LEAF_KEYS.indexOf(k) >= 0; });
        if (!isLeaf) return { problem: "it nests all / any / not, which only the JSON view shows" };
        if (!valueFits(leaf.op, leaf.value)) return { problem: "a value of " + leaf.column + " has no input in the builder" };
        state.rows.push({ column: leaf.column, op: leaf.op, value: leaf.value });
      }
    }
    return { state: state };
  }

  function toCondition(state) {
    const condition = { dataset: state.dataset };
    if (state.mode === "sql") {
      condition.sql = state.sql;
    } else {
      const leaves = state.rows.map(function (row) {
        const leaf = { column: row.column, op: row.op };
        if (row.value !== undefined) leaf.value = row.value;
        return leaf;
      });
      condition.where = {};
      condition.where[state.combinator] = leaves;
    }
    condition.severity = state.severity;
    if (state.confirmations) condition.confirmations = state.confirmations;
    if (state.dedupe.length) condition.dedupe = state.dedupe.slice();
    if (state.payload.length) condition.payload = state.payload.slice();
    return Object.assign(condition, state.keep);
  }

  // A typed value from the text of an input, as the checker reads a column of ``kind``.
  function typed(text, kind) {
    const trimmed = text.trim();
    if (kind === "integer" && /^-?[0-9]+$/.test(trimmed)) {
      const number = Number(trimmed);
      return Number.isSafeInteger(number) ? number : trimmed;
    }
    if (kind === "number" && trimmed !== "" && !isNaN(Number(trimmed))) return Number(trimmed);
    if (kind === "boolean" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
    if (kind === "string") return text;
    return trimmed;
  }

  function shown(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function Builder(root) {
    this.root = root;
    this.area = document.getElementById(root.dataset.for);
    const configNode = document.getElementById(root.dataset.for + "_builder_config");
    this.config = JSON.parse(configNode.textContent);
    this.columns = null; // [{name, type, kind}] of the chosen dataset, once fetched
    this.columnsFor = null;
    this.view = "json";
    this.state = null;
    this.memory = {};
    this.find = function (selector) { return root.querySelector(selector); };
    // The datasets the page lists are those this user may read that have partitions: no other
    // has columns to fetch.
    this.known = Array.from(this.find("[data-dataset]").options).map(function (o) { return o.value; });
    this.templates = {
      row: this.find("template[data-row-template]"),
      input: this.find("template[data-input-template]"),
      select: this.find("template[data-select-template]"),
      choice: this.find("template[data-choice-template]"),
    };
  }

  Builder.prototype.start = function () {
    const self = this;
    this.root.querySelectorAll("[data-tabs], [data-needs-script]").forEach(function (n) { n.hidden = false; });
    this.root.querySelectorAll(".cl-condition-tab").forEach(function (tab) {
      tab.addEventListener("click", function () { self.open(tab.value); });
    });
    this.find("[data-dataset]").addEventListener("change", function (event) {
      const previous = self.state.dataset;
      self.state.dataset = event.target.value;
      if (self.state.sql === self.sqlTemplate(previous)) self.state.sql = self.sqlTemplate(self.state.dataset);
      self.find("[data-sql]").value = self.state.sql;
      self.loadColumns();
      self.write();
    });
    this.find("[data-combinator]").addEventListener("change", function (event) {
      self.state.combinator = event.target.value;
      self.write();
    });
    this.find(".cl-condition-add").addEventListener("click", function () {
      // A new row starts with no column: the operators and the value follow the column chosen.
      self.state.rows.push({ column: "", op: "eq", value: "" });
      self.drawRows();
      self.write();
      const selects = self.root.querySelectorAll("[data-row] [data-column]");
      if (selects.length) selects[selects.length - 1].focus();
    });
    this.find("[data-sql]").addEventListener("input", function (event) {
      self.state.sql = event.target.value;
      self.write();
    });
    this.find("[data-severity]").addEventListener("change", function (event) {
      self.state.severity = event.target.value;
      self.write();
    });
    this.find("[data-confirmations]").addEventListener("input", function (event) {
      const text = event.target.value.trim();
      self.state.confirmations = text === "" ? 0 : Number(text);
      self.write();
    });
    this.root.querySelectorAll(".cl-condition-use-example").forEach(function (button) {
      button.addEventListener("click", function () {
        const text = button.closest(".cl-condition-example").querySelector("pre").textContent;
        self.setArea(text);
        self.open("builder");
      });
    });
    const initial = this.read();
    this.open(initial.state && initial.state.mode === "sql" ? "sql" : "builder");
  };

  Builder.prototype.sqlTemplate = function (dataset) {
    return "SELECT *\nFROM " + (dataset || "<dataset>") + "\nWHERE ";
  };

  Builder.prototype.read = function () {
    let condition;
    try {
      condition = JSON.parse(this.area.value);
    } catch (exc) {
      return { problem: "the box does not hold valid JSON yet" };
    }
    return parseCondition(condition, this.config.ops);
  };

  Builder.prototype.note = function (text) {
    const note = this.find("[data-note]");
    note.textContent = text || "";
    note.hidden = !text;
  };

  // Show one of the three views; the builder's views load the box first and refuse (staying on
  // the JSON view, with the reason) a condition they cannot show whole.
  Builder.prototype.open = function (view) {
    if (view !== "json") {
      const parsed = this.read();
      if (parsed.problem) {
        this.note("The builder cannot show this condition: " + parsed.problem + ". It is kept as it is; edit it as JSON.");
        view = "json";
      } else {
        this.note("");
        const state = parsed.state;
        const mode = view === "sql" ? "sql" : "where";
        const switched = state.mode !== mode;
        if (switched) {
          // Rows and SQL are two ways to match: the one left is remembered, the other comes back
          // as it was last shown (or starts afresh).
          if (mode === "sql") {
            this.memory.rows = state.rows;
            this.memory.combinator = state.combinator;
            state.sql = this.memory.sql || this.sqlTemplate(state.dataset);
          } else {
            this.memory.sql = state.sql;
            state.rows = this.memory.rows || [];
            state.combinator = this.memory.combinator || "all";
          }
          state.mode = mode;
        }
        this.state = state;
        this.draw();
        if (switched) this.write();
      }
    } else {
      this.note("");
    }
    this.view = view;
    this.find("[data-builder]").hidden = view === "json";
    this.find("[data-json]").hidden = view !== "json";
    this.find("[data-where-section]").hidden = view !== "builder";
    this.find("[data-sql-section]").hidden = view !== "sql";
    this.root.querySelectorAll(".cl-condition-tab").forEach(function (tab) {
      tab.setAttribute("aria-pressed", tab.value === view ? "true" : "false");
    });
  };

  Builder.prototype.setArea = function (text) {
    this.area.value = text;
    // editors.js checks the JSON and the admin notices the form changed.
    this.area.dispatchEvent(new Event("input", { bubbles: true }));
    this.area.dispatchEvent(new Event("change", { bubbles: true }));
  };

  Builder.prototype.write = function () {
    this.setArea(JSON.stringify(toCondition(this.state), null, 2));
  };

  Builder.prototype.draw = function () {
    const state = this.state;
    const datasetSelect = this.find("[data-dataset]");
    if (state.dataset && !Array.from(datasetSelect.options).some(function (o) { return o.value === state.dataset; })) {
      // Kept as written (e.g. not published yet): the server says what is wrong with it on save.
      datasetSelect.add(new Option(state.dataset + " (not among your datasets)", state.dataset));
    }
    datasetSelect.value = state.dataset;
    this.find("[data-combinator]").value = state.combinator;
    this.find("[data-sql]").value = state.sql;
    const severity = this.find("[data-severity]");
    if (!Array.from(severity.options).some(function (o) { return o.value === state.severity; })) {
      severity.add(new Option(state.severity, state.severity));
    }
    severity.value = state.severity;
    this.find("[data-confirmations]").value = state.confirmations ? String(state.confirmations) : "";
    if (this.columnsFor !== state.dataset) this.loadColumns();
    else this.drawColumns();
  };

  Builder.prototype.loadColumns = function () {
    const self = this;
    const dataset = this.state.dataset;
    const status = this.find("[data-columns-status]");
    this.columnsFor = dataset;
    this.columns = null;
    this.drawColumns();
    if (!dataset) {
      status.textContent = "";
      return;
    }
    if (this.known.indexOf(dataset) < 0) {
      status.textContent = "No columns: " + dataset + " is not a dataset you may read with partitions.";
      return;
    }
    status.textContent = "Loading the columns of " + dataset + "…";
    fetch(this.config.columnsUrl + "?dataset=" + encodeURIComponent(dataset), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (self.columnsFor !== dataset) return; // another dataset was chosen meanwhile
        if (!answer.ok) {
          status.textContent = "No columns: " + (answer.body.error || "the dataset is unknown") + ".";
          return;
        }
        self.columns = answer.body.columns;
        status.textContent = self.columns.length + " columns.";
        self.drawColumns();
      })
      .catch(function () {
        if (self.columnsFor === dataset) status.textContent = "The columns could not be loaded.";
      });
  };

  Builder.prototype.kindOf = function (column) {
    const found = (this.columns || []).find(function (c) { return c.name === column; });
    return found ? found.kind : null;
  };

  Builder.prototype.drawColumns = function () {
    this.drawRows();
    this.drawChoices("dedupe");
    this.drawChoices("payload");
  };

  Builder.prototype.drawChoices = function (key) {
    const self = this;
    const box = this.find('[data-choices="' + key + '"]');
    box.textContent = "";
    const names = (this.columns || []).map(function (c) { return c.name; });
    this.state[key].forEach(function (name) { if (names.indexOf(name) < 0) names.push(name); });
    if (!names.length) {
      box.textContent = this.state.dataset ? "…" : "Choose a dataset first.";
      return;
    }
    names.forEach(function (name) {
      const choice = self.templates.choice.content.firstElementChild.cloneNode(true);
      const checkbox = choice.querySelector("input");
      checkbox.value = name;
      checkbox.checked = self.state[key].indexOf(name) >= 0;
      checkbox.dataset.column = name;
      choice.querySelector("code").textContent = name;
      checkbox.addEventListener("change", function () {
        self.state[key] = Array.from(box.querySelectorAll("input:checked")).map(function (c) { return c.value; });
        self.write();
      });
      box.appendChild(choice);
    });
  };

  Builder.prototype.drawRows = function () {
    const self = this;
    const rows = this.find("[data-rows]");
    rows.textContent = "";
    this.state.rows.forEach(function (row, index) { rows.appendChild(self.drawRow(row, index)); });
    this.find("[data-no-rows]").hidden = this.state.rows.length > 0;
  };

  Builder.prototype.drawRow = function (row, index) {
    const self = this;
    const node = this.templates.row.content.firstElementChild.cloneNode(true);
    const columnSelect = node.querySelector("[data-column]");
    const names = (this.columns || []).map(function (c) { return c.name; });
    if (row.column && names.indexOf(row.column) < 0) {
      columnSelect.add(new Option(row.column + (this.columns ? " (not in the dataset)" : ""), row.column));
    } else if (!row.column) {
      columnSelect.add(new Option("— column —", ""));
    }
    (this.columns || []).forEach(function (c) {
      columnSelect.add(new Option(c.name + " (" + c.type + ")", c.name));
    });
    columnSelect.value = row.column;
    const opSelect = node.querySelector("[data-op]");
    const kind = this.kindOf(row.column);
    const ops = kind ? this.config.opsByKind[kind].slice() : this.config.ops.slice();
    if (ops.indexOf(row.op) < 0) ops.push(row.op);
    ops.forEach(function (op) { opSelect.add(new Option(self.config.opLabels[op] || op, op)); });
    opSelect.value = row.op;
    this.drawValue(node.querySelector("[data-value]"), row, kind);

    columnSelect.addEventListener("change", function () {
      const wasBlank = !row.column;
      row.column = columnSelect.value;
      const newKind = self.kindOf(row.column);
      if (newKind && (wasBlank || self.config.opsByKind[newKind].indexOf(row.op) < 0)) row.op = NEW_ROW_OP[newKind];
      self.retype(row, newKind);
      self.drawRows();
      self.write();
    });
    opSelect.addEventListener("change", function () {
      row.op = opSelect.value;
      self.retype(row, self.kindOf(row.column));
      self.drawRows();
      self.write();
    });
    node.querySelector(".cl-condition-remove").addEventListener("click", function () {
      self.state.rows.splice(index, 1);
      self.drawRows();
      self.write();
    });
    return node;
  };

  // The row's value re-read for its (new) op and kind from what its inputs show.
  Builder.prototype.retype = function (row, kind) {
    const texts = this.texts(row);
    row.value = this.valueFrom(texts, row.op, kind);
  };

  Builder.prototype.texts = function (row) {
    if (Array.isArray(row.value)) return row.value.map(shown);
    return [shown(row.value)];
  };

  Builder.prototype.valueFrom = function (texts, op, kind) {
    const k = kind || "string";
    if (op === "is_null") return texts[0] !== "false";
    if (op === "in" || op === "not_in") {
      return texts.join(",").split(",").map(function (t) { return t.trim(); })
        .filter(function (t) { return t !== ""; }).map(function (t) { return typed(t, k); });
    }
    if (op === "between") return [typed(texts[0] || "", k), typed(texts[1] || "", k)];
    return typed(texts[0] || "", k);
  };

  Builder.prototype.drawValue = function (box, row, kind) {
    const self = this;
    const texts = this.texts(row);
    const inputs = [];
    const add = function (node) { box.appendChild(node); return node; };
    const changed = function () {
      const values = inputs.map(function (input) { return input.value; });
      row.value = self.valueFrom(values, row.op, kind);
      self.write();
    };
    if (row.op === "is_null" || kind === "boolean") {
      const wrap = add(this.templates.select.content.firstElementChild.cloneNode(true));
      const select = wrap.querySelector("select");
      const choices = row.op === "is_null"
        ? [["true", "yes: the column is empty"], ["false", "no: the column has a value"]]
        : [["true", "true"], ["false", "false"]];
      choices.forEach(function (c) { select.add(new Option(c[1], c[0])); });
      select.value = row.op === "is_null" && (row.value === undefined || row.value === null) ? "true" : texts[0];
      if (row.op !== "is_null" && typeof row.value !== "boolean") {
        row.value = select.value === "true";
      }
      select.addEventListener("change", function () {
        row.value = select.value === "true";
        self.write();
      });
      return;
    }
    const placeholder = this.placeholder(row.op, kind);
    const count = row.op === "between" ? 2 : 1;
    for (let i = 0; i < count; i++) {
      if (i === 1) add(document.createElement("span")).textContent = "and";
      const input = add(this.templates.input.content.firstElementChild.cloneNode(true));
      input.value = row.op === "in" || row.op === "not_in" ? texts.join(", ") : (texts[i] || "");
      input.placeholder = placeholder;
      input.addEventListener("input", changed);
      inputs.push(input);
    }
  };

  Builder.prototype.placeholder = function (op, kind) {
    if (op === "in" || op === "not_in") return "values, separated by commas";
    if (kind === "timestamp") return "2026-12-01T18:00:00+00:00";
    if (kind === "string" && ["gt", "gte", "lt", "lte", "between"].indexOf(op) >= 0) return "a whole number (uint256 amount)";
    if (kind === "integer") return "a whole number";
    if (kind === "number") return "a number";
    return "a value";
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-condition-builder]").forEach(function (root) {
      new Builder(root).start();
    });
  });
})();
