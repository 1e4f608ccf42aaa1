"""Who may do what in a dataset: each staff user holds a role per dataset (``DatasetRole``).

viewer < reviewer < curator. A viewer reads everything of the dataset; a reviewer also settles the
review queue and corrects labels; a curator does everything (gold, imports, vocabulary, candidate
rounds, releases, retraining, campaigns, MTurk spend, annotator links, the team). Superusers act as
curators of every dataset. Pages and API routes ask ``dataset_require``; refusals are 403s whose
message names the dataset, the role needed and the role held.

The API's default permission (``DatasetRolePermission``, REST_FRAMEWORK in settings) applies this to
every staff route: a route with a dataset ``name`` in its URL needs viewer to read and curator to
change, unless its view says otherwise in ``dataset_roles`` (label corrections: reviewer; creating
a dataset: any staff user, who becomes its curator). Routes without a dataset in the URL name the
datasets they touch through ``role_datasets(request)`` (names, or None), or else need the role in
at least one dataset.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from rest_framework.permissions import SAFE_METHODS, BasePermission

from backend.common.errors import Forbidden
from backend.videos.models import Dataset, DatasetRole

VIEWER, REVIEWER, CURATOR = DatasetRole.Role.VIEWER.value, DatasetRole.Role.REVIEWER.value, DatasetRole.Role.CURATOR.value
ROLES = (VIEWER, REVIEWER, CURATOR)
_RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
# A value of ``dataset_roles`` meaning: any staff user (creating a dataset, reading one's own lists).
STAFF = "staff"

ROLE_TOO_LOW = "You are a {role} of dataset {dataset!r}; {doing} needs the {needed} role."
NO_ROLE = "You have no role in dataset {dataset!r}; {doing} needs the {needed} role (a curator of the dataset " \
          "can add you on its Team page)."
NO_ROLE_ANYWHERE = "{doing} needs the {needed} role in at least one dataset; you have none."


def dataset_role(user, dataset: Dataset) -> str | None:
    """The user's role in the dataset: ``curator`` for superusers, None for non-staff or no role."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return None
    if user.is_superuser:
        return CURATOR
    return DatasetRole.objects.filter(user=user, dataset=dataset).values_list("role", flat=True).first()


def role_allows(role: str | None, needed: str) -> bool:
    """Whether ``role`` (or no role) is enough for ``needed`` (viewer < reviewer < curator)."""
    if needed == STAFF:
        return True
    return role is not None and _RANK[role] >= _RANK[needed]


def dataset_require(user, dataset: Dataset, needed: str, *, doing: str = "this") -> str | None:
    """The user's role in the dataset, or a 403 ``Forbidden`` naming the dataset, the role needed and
    the user's role."""
    role = dataset_role(user, dataset)
    if not role_allows(role, needed):
        template = NO_ROLE if role is None else ROLE_TOO_LOW
        raise Forbidden(template.format(role=role, dataset=dataset.name, doing=doing, needed=needed))
    return role


def role_anywhere_require(user, needed: str, *, doing: str = "This") -> None:
    """A 403 unless the user holds ``needed`` in at least one dataset (routes across datasets)."""
    if needed == STAFF or (user.is_superuser and user.is_staff):
        return
    ranks = [_RANK[r] for r in DatasetRole.objects.filter(user=user).values_list("role", flat=True)]
    if not ranks or max(ranks) < _RANK[needed]:
        raise Forbidden(NO_ROLE_ANYWHERE.format(doing=doing, needed=needed))


def datasets_named(names: Iterable[str]) -> list[Dataset]:
    """The datasets of these names that exist (unknown names are left to the view's 404)."""
    return list(Dataset.objects.filter(name__in=[n for n in names if isinstance(n, str)]))


def datasets_visible(user, needed: str = VIEWER) -> QuerySet[Dataset]:
    """The datasets in which the user holds at least ``needed`` (all of them for superusers)."""
    if user.is_superuser:
        return Dataset.objects.order_by("name")
    roles = [r for r in ROLES if _RANK[r] >= _RANK[needed]]
    return Dataset.objects.filter(roles__user=user, roles__role__in=roles).order_by("name")


def role_rows(*, dataset: Dataset) -> QuerySet[DatasetRole]:
    """The dataset's team, curators first."""
    from django.db.models import Case, IntegerField, Value, When

    order = Case(*[When(role=r, then=Value(-_RANK[r])) for r in ROLES], output_field=IntegerField())
    return (DatasetRole.objects.filter(dataset=dataset).select_related("user", "granted_by")
            .order_by(order, "user__username"))


def needed_role(view, method: str) -> str:
    """The role an API view needs for a method: its ``dataset_roles`` entry, else viewer to read
    and curator to change."""
    roles = getattr(view, "dataset_roles", {})
    if method in roles:
        return roles[method]
    return VIEWER if method in SAFE_METHODS else CURATOR


def _doing(view, request) -> str:
    return getattr(view, "dataset_doing", {}).get(request.method) or f"{request.method} {request.path}"


class DatasetRolePermission(BasePermission):
    """The API's default permission: staff only (as IsAdminUser), then the role the route needs in
    its dataset (see the module docstring)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if user.is_superuser:
            return True
        needed = needed_role(view, request.method)
        doing = _doing(view, request)
        name = getattr(view, "kwargs", {}).get("name")
        datasets: Iterable[Dataset] | None
        if name is not None:
            found = Dataset.objects.filter(name=name).first()
            datasets = [found] if found is not None else []  # an unknown name: the view answers 404
        else:
            names = view.role_datasets(request) if hasattr(view, "role_datasets") else None
            datasets = None if names is None else datasets_named(names)
        if datasets is None:
            role_anywhere_require(user, needed, doing=doing[:1].upper() + doing[1:])
        else:
            for dataset in datasets:
                dataset_require(user, dataset, needed, doing=doing)
        return True
