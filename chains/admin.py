"""The contracts page: an org's registered contracts and a form to register one (a decoding job).

Who may register is who may create jobs (``platform_site.tenancy.can_create``), the rule the job
admin, the API and the command ask too."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from orchestration.models import Job
from platform_site import tenancy
from versioning.datasets import readable_namespaces

from .contracts import OPERATOR, ContractSpec, contract_register, standard_names


class ContractForm(forms.Form):
    name = forms.CharField(
        max_length=40, help_text="Lower-case, e.g. usdc or uni_v2_pair: names its datasets."
    )
    chain = forms.ChoiceField(help_text="The chain namespace whose logs are decoded.")
    address = forms.CharField(
        required=False,
        help_text="0x… (any case; mixed case must be checksummed). Empty: any address "
        "emitting these events (contracts a factory makes).",
    )
    standard = forms.ChoiceField(required=False, help_text="A built-in ABI, or leave empty and paste one.")
    abi = forms.CharField(
        label="ABI",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text='ABI JSON: [{"type": "event", …}]',
    )
    events = forms.CharField(required=False, help_text="Comma-separated event names; empty: every event.")
    functions = forms.CharField(
        required=False, help_text="Comma-separated function names whose calls to decode."
    )

    def __init__(self, *args, chains: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chain"].choices = [(chain, chain) for chain in chains]
        self.fields["standard"].choices = [("", "— paste an ABI —")] + [(n, n) for n in standard_names()]

    def clean_abi(self):
        text = self.cleaned_data["abi"].strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"not JSON: {exc}") from None

    @staticmethod
    def _names(text: str) -> list[str]:
        return [name.strip() for name in text.split(",") if name.strip()]

    def clean_events(self):
        return self._names(self.cleaned_data["events"]) or None

    def clean_functions(self):
        return self._names(self.cleaned_data["functions"])


def registered_contracts(user) -> list[dict]:
    jobs = tenancy.visible_to(user, Job).filter(operator=OPERATOR).select_related("org").order_by("name")
    rows = []
    for job in jobs[:500]:
        spec = ContractSpec.from_job(job)
        rows.append(
            {
                "job": job,
                "spec": spec,
                "what": spec.standard or "ABI",
                "datasets": ", ".join(job.output_datasets),
            }
        )
    return rows


def contracts_view(request):
    may_register = tenancy.can_create(request.user, Job)
    if request.method == "POST" and not may_register:
        raise PermissionDenied
    chains = sorted(_chains_of(request.user))
    form = ContractForm(request.POST or None, chains=chains)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = contract_register(
                user=request.user,
                name=data["name"],
                chain=data["chain"],
                address=data["address"] or None,
                standard=data["standard"] or None,
                abi=data["abi"],
                events=data["events"],
                functions=data["functions"],
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(
                request, f"Contract {data['name']} registered: {len(job.output_datasets)} datasets."
            )
            return redirect(reverse("admin:chains_contracts"))
    return TemplateResponse(request, "admin/chains/contracts.html", _context(request, form=form))


def _chains_of(user) -> set[str]:
    """The namespaces other than the org's own that its users read: the chains' datasets."""
    return {namespace for namespace in readable_namespaces(user.org.slug) if namespace != user.org.slug}


def _context(request, *, form) -> dict:
    may_register = tenancy.can_create(request.user, Job)
    contracts = registered_contracts(request.user)
    return {
        **admin.site.each_context(request),
        "title": "Contracts",
        "form": form if may_register else None,
        "headers": ["Contract", "Chain", "Address", "ABI", "Datasets"],
        "rows": [
            (
                row["spec"].name,
                row["spec"].chain,
                row["spec"].address or "any address",
                row["what"],
                row["datasets"],
            )
            for row in contracts
        ],
        "intro": "Each registered contract is a decoding job: its logs (and calls) are decoded by the "
        "ABI into one dataset per event under your org's namespace, as blocks arrive.",
        "jobs_url": f"{reverse('admin:orchestration_job_changelist')}?operator={OPERATOR}",
    }


admin.site.register_page("chains/contracts/", contracts_view, name="chains_contracts")
