"""Admin for address labels: a large-table list with checksummed addresses, and a CSV import that
reports every rejected row."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from orgs.models import Visibility
from platform_site.admin_base import LargeTableAdmin

from .models import AddressLabel
from .services import ImportFileError, address_labels_import_file


class AddressLabelImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header: address, label and optionally visibility.")
    default_visibility = forms.ChoiceField(
        choices=Visibility.choices, initial=Visibility.ORG, help_text="For rows with no visibility."
    )


@admin.register(AddressLabel)
class AddressLabelAdmin(LargeTableAdmin):
    """Labels of the org; addresses shown checksummed (EIP-55). "Import CSV" upserts many at once and
    reports every rejected row. A large-table admin: a million labels page without being counted."""

    list_display = ["checksummed_address", "label", "visibility", "org", "user", "updated_at"]
    list_filter = ["visibility", "org"]
    list_select_related = ["org", "user"]
    search_fields = ["address", "label"]
    autocomplete_fields = ["org", "user"]
    readonly_fields = ["created_at", "updated_at"]
    change_list_template = "admin/labels/addresslabel/change_list.html"
    # The import's report shows this many rejected rows; the count says how many there were.
    REPORT_ROWS_SHOWN = 1000

    @admin.display(description="Address", ordering="address")
    def checksummed_address(self, label: AddressLabel) -> str:
        return label.address_checksummed

    def get_search_results(self, request, queryset, search_term):
        # A checksummed (mixed-case) address pasted into the search box finds its lower-case row.
        return super().get_search_results(request, queryset, search_term.strip())

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="labels_addresslabel_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        report, file_error = None, None
        form = AddressLabelImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                report = address_labels_import_file(
                    user=request.user,
                    file=form.cleaned_data["file"].file,
                    default_visibility=form.cleaned_data["default_visibility"],
                )
            except ImportFileError as exc:
                file_error = str(exc)
        shown = report.rejected[: self.REPORT_ROWS_SHOWN] if report else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Import address labels from CSV",
            "opts": self.opts,
            "form": form,
            "report": report,
            "file_error": file_error,
            "rejected_shown": shown,
            "rejected_headers": ["Line", "Why it was rejected"],
            "rejected_rows": [(row.line, row.reason) for row in shown],
            "changelist_url": reverse("admin:labels_addresslabel_changelist"),
            "breadcrumbs": [
                {
                    "title": self.opts.app_config.verbose_name,
                    "link": reverse("admin:app_list", args=[self.opts.app_label]),
                },
                {
                    "title": self.opts.verbose_name_plural,
                    "link": reverse("admin:labels_addresslabel_changelist"),
                },
                {"title": "Import CSV"},
            ],
            "intro": "Labels go to your org. A row whose address and label already exist in your org "
            "takes the row's visibility (if you may change that label) and is otherwise left as it is: "
            "importing the same file again changes nothing. Bad rows are listed with the reason; the "
            "good rows are imported.",
        }
        return TemplateResponse(request, "admin/labels/addresslabel/import.html", context)
