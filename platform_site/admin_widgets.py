"""Form widgets of the admin theme: one-line inputs for short text, a JSON editor, an SQL editor."""

from __future__ import annotations

import json

from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget


class ShortTextInput(UnfoldAdminTextInputWidget):
    """Names, keys and identifiers are TextField in PostgreSQL but short on screen: one line."""


class CommaListInput(UnfoldAdminTextInputWidget):
    """A list of short strings (dataset names, unique key columns), comma-separated on one line."""


class JsonEditor(UnfoldAdminTextareaWidget):
    """JSON pretty-printed in a monospace box; a local script checks it as it is typed and the
    server's error shows under the field like every other field error."""

    template_name = "chainlake/widgets/json_editor.html"

    class Media:
        js = ["chainlake/editors.js"]

    def __init__(self, attrs=None):
        super().__init__({"rows": 8, "spellcheck": "false", "data-json-editor": "", **(attrs or {})})

    def format_value(self, value):
        # The form field hands over compact JSON text (or the raw text of an invalid submission,
        # which is shown back untouched so the user can fix it).
        if isinstance(value, str):
            try:
                return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
            except ValueError:
                return value
        return super().format_value(value)


class SqlEditor(UnfoldAdminTextareaWidget):
    """SQL in a monospace box that keeps indentation (Tab indents instead of leaving the field)."""

    def __init__(self, attrs=None):
        super().__init__({"rows": 10, "spellcheck": "false", "data-sql-editor": "", **(attrs or {})})

    class Media:
        js = ["chainlake/editors.js"]
