import django_filters

from .models import AddressLabel


class AddressLabelFilter(django_filters.FilterSet):
    address = django_filters.CharFilter(method="filter_address")
    label = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = AddressLabel
        fields = ["visibility", "address", "label"]

    def filter_address(self, queryset, name, value):
        return queryset.filter(address=value.strip().lower())
