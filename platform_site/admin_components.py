"""The theme's look for pages the admin does not generate (the SQL console, backfill, backtest,
imports, registries, record tables, the tables on a change page).

The theme styles its own pages with utility classes compiled into its stylesheet; a class it never
uses does not exist there. So these pages take the exact class lists of the theme's changelist cells
and form widgets (imported from the theme, so they follow it on upgrade) and its widgets, instead
of styles of our own.
"""

from __future__ import annotations

from django import forms
from django.utils.html import format_html, format_html_join
from unfold import widgets as unfold_widgets
from unfold.templatetags.unfold_list import ROW_CLASSES

from .admin_display import display_cell

# A changelist's header cell (unfold/helpers/change_list_headers.html) and body cell (``ROW_CLASSES``).
HEADER_CELL_CLASSES = (
    "align-middle font-semibold py-2 text-left text-font-important-light dark:text-font-important-dark "
    "whitespace-nowrap hidden px-3 lg:table-cell"
)
BODY_CELL_CLASSES = " ".join(ROW_CLASSES)
# The changelist's table and the box around it (admin/change_list_results.html).
TABLE_CLASSES = "block border-base-200 border-spacing-none border-separate w-full lg:table"
TABLE_BOX_CLASSES = (
    "lg:rounded-default -mx-1 px-1 overflow-x-auto lg:border lg:border-base-200 lg:mx-0 lg:px-0 "
    "lg:shadow-xs lg:dark:border-base-800 lg:bg-white lg:dark:bg-base-900"
)
ROW_GROUP_CLASSES = "block relative lg:table-row-group"
ROW_CLASSES_ = (
    "data-row block border border-base-200 mb-3 relative rounded-default lg:table-row lg:border-none "
    "lg:mb-0 lg:rounded-none dark:border-base-800"
)
STRIPE_CLASSES = "bg-base-50 dark:bg-white/[.02]"
# A text input and a select of a change form, for inputs a page draws itself (filters, the console).
INPUT_CLASSES = " ".join(unfold_widgets.INPUT_CLASSES)
SELECT_CLASSES = " ".join(unfold_widgets.SELECT_CLASSES)
TEXTAREA_CLASSES = " ".join(unfold_widgets.TEXTAREA_CLASSES)
LABEL_CLASSES = " ".join(unfold_widgets.LABEL_CLASSES)
CHECKBOX_CLASSES = " ".join(unfold_widgets.CHECKBOX_CLASSES)

# Each plain widget's counterpart in the theme (the widgets a change form would use).
_THEMED_WIDGETS: tuple[tuple[type[forms.Widget], type[forms.Widget]], ...] = (
    (forms.CheckboxInput, unfold_widgets.UnfoldBooleanWidget),
    (forms.ClearableFileInput, unfold_widgets.UnfoldAdminFileFieldWidget),
    (forms.FileInput, unfold_widgets.UnfoldAdminFileFieldWidget),
    (forms.Textarea, unfold_widgets.UnfoldAdminTextareaWidget),
    (forms.DateTimeInput, unfold_widgets.UnfoldAdminSplitDateTimeWidget),
    (forms.SelectMultiple, unfold_widgets.UnfoldAdminSelectMultipleWidget),
    (forms.Select, unfold_widgets.UnfoldAdminSelectWidget),
    (forms.NumberInput, unfold_widgets.UnfoldAdminIntegerFieldWidget),
    (forms.EmailInput, unfold_widgets.UnfoldAdminEmailInputWidget),
    (forms.TextInput, unfold_widgets.UnfoldAdminTextInputWidget),
)
_THEME_WIDGET_MODULE = unfold_widgets.__name__


def themed_form(form: forms.BaseForm) -> forms.BaseForm:
    """``form`` with every plain widget swapped for the theme's own (in place; a form instance owns
    deep copies of its fields, so the form class is untouched)."""
    for field in form.fields.values():
        widget = field.widget
        if type(widget).__module__ == _THEME_WIDGET_MODULE:
            continue
        for plain, themed in _THEMED_WIDGETS:
            if isinstance(widget, plain):
                field.widget = _themed_widget(themed, widget)
                break
    return form


def _themed_widget(themed: type[forms.Widget], widget: forms.Widget) -> forms.Widget:
    attrs = dict(widget.attrs)
    if themed is unfold_widgets.UnfoldAdminSplitDateTimeWidget:
        # A single date-and-time box keeps the field's one value (a split widget posts two).
        return unfold_widgets.UnfoldAdminTextInputWidget(attrs={"placeholder": "YYYY-MM-DD HH:MM", **attrs})
    new = themed(attrs=attrs)
    if isinstance(widget, forms.widgets.ChoiceWidget):
        new.choices = widget.choices
    if isinstance(widget, forms.Textarea) and str(widget.attrs.get("rows")) == "10":
        new.attrs["rows"] = 3  # Django's default of ten rows is a lot for a list of keys
    return new


def theme_table(headers: list[str], rows: list[tuple], *, table_id: str = "") -> str:
    """A read-only table drawn like a changelist (header, cells, alternate row shading). Cells read
    as in any list: nothing is "—" (not "None"), a time is to the second in the viewer's zone."""
    head = format_html_join(
        "", '<th class="{}" scope="col">{}</th>', ((HEADER_CELL_CLASSES, h) for h in headers)
    )
    bodies = format_html_join(
        "",
        '<tbody class="{}"><tr class="{}">{}</tr></tbody>',
        (
            (
                f"{ROW_GROUP_CLASSES} {STRIPE_CLASSES if index % 2 else ''}",
                ROW_CLASSES_,
                format_html_join(
                    "",
                    '<td class="{}" data-label="{}">{}</td>',
                    (
                        (BODY_CELL_CLASSES, header, display_cell(cell))
                        for header, cell in zip(headers, row, strict=False)
                    ),
                ),
            )
            for index, row in enumerate(rows)
        ),
    )
    id_attr = format_html(' id="{}"', table_id) if table_id else ""
    return format_html(
        '<div class="cl-theme-table {}"><table{} class="{}"><thead><tr>{}</tr></thead>{}</table></div>',
        TABLE_BOX_CLASSES,
        id_attr,
        TABLE_CLASSES,
        head,
        bodies,
    )
