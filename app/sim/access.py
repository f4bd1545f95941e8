"""Authorization: every request is allowed except the configured denied verb/resource pairs.

The rules answer `kubectl auth can-i` (SelfSubjectAccessReview), `kubectl auth can-i --list`
(SelfSubjectRulesReview) and `kubectl auth whoami` (SelfSubjectReview), and the same rules
refuse the requests themselves with kube-apiserver's 403, so what `can-i` says is what happens.

A rule is written `VERB:RESOURCE`, as `walkai-jobs sim --deny` takes it: `delete:jobs`,
`get:pods/log`, `*:secrets`, `create:jobs.batch`. A resource without a group matches it in any
group; `*` matches every verb or resource; `pods` alone leaves its subresources allowed, and
`pods/*` covers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.sim import resources
from app.sim.errors import ApiError, bad_request, forbidden, qualified
from app.sim.resources import Resource

USER = "walkai-sim"
USER_GROUPS = ["system:masters", "system:authenticated"]
AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
# The review kinds served per group, by plural: (kind, singular).
REVIEWS: dict[str, dict[str, tuple[str, str]]] = {
    AUTHORIZATION: {
        "selfsubjectaccessreviews": ("SelfSubjectAccessReview", "selfsubjectaccessreview"),
        "selfsubjectrulesreviews": ("SelfSubjectRulesReview", "selfsubjectrulesreview"),
    },
    AUTHENTICATION: {"selfsubjectreviews": ("SelfSubjectReview", "selfsubjectreview")},
}


@dataclass(frozen=True)
class Rule:
    """One denied verb/resource pair."""

    verb: str
    resource: str
    group: str | None  # None: any group
    subresource: str  # "": the resource itself; "*": every subresource

    @classmethod
    def parse(cls, text: str) -> Rule:
        """`delete:jobs.batch` → Rule("delete", "jobs", "batch", "")."""
        verb, sep, target = text.partition(":")
        if not sep or not verb or not target:
            raise ValueError(f"{text!r}: expected VERB:RESOURCE, e.g. delete:jobs or get:pods/log")
        target, _, subresource = target.partition("/")
        resource, dot, group = target.partition(".")
        return cls(verb, resource, group if dot else None, subresource)

    def overlaps(self, verb: str, group: str, resource: str, subresource: str) -> bool:
        """Whether this rule denies some of `verb` on `resource` (`*` in a request: any)."""
        return (
            _meets(self.verb, verb)
            and _meets(self.resource, resource)
            and (self.group is None or _meets(self.group, group))
            and (self.subresource == subresource or "*" in (self.subresource, subresource))
        )

    def __str__(self) -> str:
        group = f".{self.group}" if self.group is not None else ""
        sub = f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb}:{self.resource}{group}{sub}"


def _meets(pattern: str, value: str) -> bool:
    return "*" in (pattern, value) or pattern == value


class Access:
    """The authorizer of the simulated API server (see the module docstring)."""

    def __init__(self, denied: Iterable[str | Rule] = ()) -> None:
        self.denied = [r if isinstance(r, Rule) else Rule.parse(r) for r in denied]

    def allows(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """Whether the user may `verb` the resource (every matching request, for `*`)."""
        return not any(r.overlaps(verb, group, resource, subresource) for r in self.denied)

    def check(
        self, verb: str, res: Resource, namespace: str | None, name: str | None, sub: str | None
    ) -> None:
        """403 as kube-apiserver's RBAC writes it when a rule denies the request."""
        if self.allows(verb, res.group, res.plural, sub or ""):
            return
        resource = f"{res.plural}/{sub}" if sub else res.plural
        subject = qualified(res.plural, res.group) + (f' "{name}"' if name else "")
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise forbidden(
            f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{resource}" in API '
            f'group "{res.group}" {scope}',
            res.plural, name or "", res.group,
        )  # fmt: skip

    # -- reviews -----------------------------------------------------------------------------

    def review(self, group: str, plural: str, body: Any) -> dict[str, Any]:
        """The answer to a review POSTed to `/apis/<group>/v1/<plural>` (the body, with status)."""
        if not isinstance(body, dict):
            raise bad_request("the object provided is unrecognized")
        kind = REVIEWS[group][plural][0]
        given = body.get("spec")
        spec: dict[str, Any] = given if isinstance(given, dict) else {}
        answer = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": {}, "spec": spec}
        if plural == "selfsubjectreviews":
            answer.pop("spec")
            answer["status"] = {"userInfo": {"username": USER, "groups": USER_GROUPS}}
        elif plural == "selfsubjectrulesreviews":
            answer["status"] = self._rules()
        else:
            answer["status"] = {"allowed": self._allowed(kind, spec)}
        return answer

    def _allowed(self, kind: str, spec: dict[str, Any]) -> bool:
        attrs, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if (attrs is None) == (non_resource is None):
            raise _invalid(kind)
        if attrs is None:
            return True  # no rule names a non-resource URL
        return self.allows(
            attrs.get("verb") or "", attrs.get("group") or "", attrs.get("resource") or "",
            attrs.get("subresource") or "",
        )  # fmt: skip

    def _rules(self) -> dict[str, Any]:
        """What `kubectl auth can-i --list` prints: all, or each resource's allowed verbs."""
        everything = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        if not self.denied:
            rules = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
            return {"resourceRules": rules, "nonResourceRules": everything, "incomplete": False}
        rules = []
        for group, version in [("", "v1"), *resources.GROUPS.items()]:
            for entry in resources.api_resource_list(group, version)["resources"]:
                plural, _, sub = entry["name"].partition("/")
                verbs = [v for v in entry["verbs"] if self.allows(v, group, plural, sub)]
                if verbs:
                    rules.append({"verbs": verbs, "apiGroups": [group],
                                  "resources": [entry["name"]]})  # fmt: skip
        for group, reviews in REVIEWS.items():
            rules.append({"verbs": ["create"], "apiGroups": [group], "resources": list(reviews)})
        return {"resourceRules": rules, "nonResourceRules": everything, "incomplete": False}


def _invalid(kind: str) -> ApiError:
    return ApiError(
        422, "Invalid",
        f'{kind}.{AUTHORIZATION} "" is invalid: spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        {"name": "", "group": AUTHORIZATION, "kind": kind},
    )  # fmt: skip


# -- discovery -----------------------------------------------------------------------------


def api_groups() -> list[dict[str, Any]]:
    """The review groups' entries in `/apis`."""
    return [g for g in (api_group(name) for name in REVIEWS) if g is not None]


def api_group(group: str) -> dict[str, Any] | None:
    """`/apis/<group>` for a review group, or None."""
    if group not in REVIEWS:
        return None
    gv = {"groupVersion": f"{group}/v1", "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv],
            "preferredVersion": gv}  # fmt: skip


def api_resource_list(group: str) -> dict[str, Any]:
    """`/apis/<group>/v1` for a review group: create-only, cluster-scoped kinds."""
    entries = [
        {"name": plural, "singularName": singular, "namespaced": False, "kind": kind,
         "verbs": ["create"]}
        for plural, (kind, singular) in REVIEWS[group].items()
    ]  # fmt: skip
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/v1",
            "resources": entries}  # fmt: skip


def verb_of(method: str, named: bool, watch: bool) -> str:
    """The authorization verb of an HTTP request on a resource path."""
    if method == "GET":
        return "get" if named else "watch" if watch else "list"
    if method == "DELETE" and not named:
        return "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )
