#!/usr/bin/env python3
"""A small, stateful Kubernetes API server for shakeout's tests.

It is not a mock that echoes expectations: it keeps nodes, pods, Deployments,
ReplicaSets, PodDisruptionBudgets and NetworkPolicies, and runs the two controllers a
zone-loss test needs (a ReplicaSet controller that replaces missing pods on
schedulable nodes, and readiness that turns a new pod Ready after a delay). The same
server is driven by the real `kubectl` in tests, so it answers what real clients send:
discovery (/api, /apis, /version, resource lists), label and field selectors,
merge-patch and strategic-merge-patch (applied as a merge patch, which is exact for the
map-only patches used here: cordon, labels, annotations), resourceVersion
preconditions (409), the pods/eviction subresource refusing with 429 when a
PodDisruptionBudget would be violated, and real `Status` error bodies. It serves no
OpenAPI document, so `kubectl apply` needs `--validate=false`.

Usage: server.py FIXTURE.json   (prints "listening on PORT" once ready; port 0 = any)
The fixture: {"port": 0, "ready_delay": 1.0,
              "nodes": [{"name", "zone", "labels": {}, "unschedulable": false}],
              "deployments": [{"namespace", "name", "replicas", "labels": {}}],
              "pdbs": [{"namespace", "name", "selector": {}, "minAvailable": 2}],
              "daemonsets": [{"namespace", "name", "labels": {}}]}
"""

import copy
import datetime
import hashlib
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
RV = [1000]
ZONE_LABEL = "topology.kubernetes.io/zone"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_rv():
    RV[0] += 1
    return str(RV[0])


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(kind, name, group=""):
    plural = KINDS[kind]["plural"]
    resource = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{resource} "{name}" not found',
                    {"name": name, "group": group, "kind": plural})


# kind -> how it is served
KINDS = {
    "Node": {"plural": "nodes", "group": "", "version": "v1", "namespaced": False},
    "Pod": {"plural": "pods", "group": "", "version": "v1", "namespaced": True},
    "Namespace": {"plural": "namespaces", "group": "", "version": "v1", "namespaced": False},
    "Deployment": {"plural": "deployments", "group": "apps", "version": "v1", "namespaced": True},
    "ReplicaSet": {"plural": "replicasets", "group": "apps", "version": "v1", "namespaced": True},
    "DaemonSet": {"plural": "daemonsets", "group": "apps", "version": "v1", "namespaced": True},
    "PodDisruptionBudget": {"plural": "poddisruptionbudgets", "group": "policy", "version": "v1",
                            "namespaced": True},
    "NetworkPolicy": {"plural": "networkpolicies", "group": "networking.k8s.io", "version": "v1",
                      "namespaced": True},
}
BY_PLURAL = {(v["group"], v["plural"]): k for k, v in KINDS.items()}

# (kind, namespace or "", name) -> object
STORE = {}
CONFIG = {"ready_delay": 1.0}


def api_version(kind):
    k = KINDS[kind]
    return f'{k["group"]}/{k["version"]}' if k["group"] else k["version"]


def put(obj):
    """Store an object, stamping what the API server owns."""
    kind = obj["kind"]
    meta = obj.setdefault("metadata", {})
    meta.setdefault("uid", hashlib.sha1(f"{kind}/{meta.get('namespace')}/{meta['name']}/{RV[0]}"
                                        .encode()).hexdigest()[:8] + "-uid")
    meta.setdefault("creationTimestamp", now())
    meta["resourceVersion"] = next_rv()
    obj["apiVersion"] = api_version(kind)
    STORE[(kind, meta.get("namespace", ""), meta["name"])] = obj
    return obj


# ---------------------------------------------------------------- selectors

def parse_label_selector(text):
    """A label selector string to a list of (key, op, values); raises ApiError."""
    reqs = []
    if not text:
        return reqs
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    for term in terms:
        term = term.strip()
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            reqs.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
            continue
        m = re.fullmatch(r"([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)", term)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, [m.group(3)]))
            continue
        m = re.fullmatch(r"(!?)([\w./-]+)", term)
        if m:
            reqs.append((m.group(2), "!" if m.group(1) else "exists", []))
            continue
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, values in reqs:
        have = key in labels
        if op == "=" and labels.get(key) != values[0]:
            return False
        if op == "!=" and have and labels[key] == values[0]:
            return False
        if op == "in" and labels.get(key) not in values:
            return False
        if op == "notin" and have and labels[key] in values:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
    return True


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase",
          "spec.unschedulable"}


def parse_field_selector(text):
    reqs = []
    if not text:
        return reqs
    for term in text.split(","):
        m = re.fullmatch(r"([\w.]+)\s*(==|!=|=)\s*(.*)", term.strip())
        if not m:
            raise ApiError(400, "BadRequest", f"invalid field selector: {term!r}")
        if m.group(1) not in FIELDS:
            raise ApiError(400, "BadRequest",
                           f'field label not supported: {m.group(1)}')
        reqs.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return reqs


def fields_match(reqs, obj):
    return all((field_value(obj, p) == v) == eq for p, eq, v in reqs)


def selector_match(selector, labels):
    """A LabelSelector object (matchLabels, matchExpressions) against labels."""
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[e["operator"]]
        if not labels_match([(e["key"], op, e.get("values") or [])], labels):
            return False
    return True


# ---------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target, patch):
    """Applied as a merge patch, minus the strategic directives: exact for the
    map-only patches kubectl sends for cordon, label and annotate."""
    if isinstance(patch, dict):
        patch = {k: v for k, v in patch.items() if not k.startswith("$")}
    return merge_patch(target, patch)


def json_patch(target, ops):
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.setdefault(p, {})
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), op["value"])
            else:
                parent[last] = op["value"]
        elif op["op"] == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                parent.pop(last, None)
        elif op["op"] == "test":
            value = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if value != op.get("value"):
                raise ApiError(422, "Invalid", f"the test operation on {op['path']} failed")
        else:
            raise ApiError(415, "UnsupportedMediaType", f"json patch op {op['op']} not supported")
    return doc


# ---------------------------------------------------------------- controllers

def pod_ready(pod):
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


def objects(kind, namespace=None):
    return [o for (k, ns, _), o in STORE.items()
            if k == kind and (namespace is None or ns == namespace)]


def owned_by(obj, owner):
    return any(r.get("uid") == owner["metadata"]["uid"]
               for r in obj["metadata"].get("ownerReferences", []))


def owner_ref(owner):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def schedulable_nodes():
    return sorted((n for n in objects("Node") if not n.get("spec", {}).get("unschedulable")),
                  key=lambda n: n["metadata"]["name"])


def new_pod(owner, labels, node, ready):
    base = owner["metadata"]["name"]
    suffix = hashlib.sha1(f"{base}{RV[0]}{time.time()}".encode()).hexdigest()[:5]
    condition = "True" if ready else "False"
    return put({
        "kind": "Pod",
        "metadata": {"name": f"{base}-{suffix}", "namespace": owner["metadata"]["namespace"],
                     "labels": dict(labels), "ownerReferences": [owner_ref(owner)]},
        "spec": {"nodeName": node["metadata"]["name"],
                 "containers": [{"name": "app", "image": "registry.local/app:1"}]},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": condition}],
                   "_readyAt": time.time() + (0 if ready else CONFIG["ready_delay"])},
    })


def reconcile(initial=False):
    """One pass of the ReplicaSet and DaemonSet controllers and of readiness."""
    with LOCK:
        for pod in objects("Pod"):
            st = pod["status"]
            if not pod_ready(pod) and time.time() >= st.get("_readyAt", 0) and \
                    not pod["metadata"].get("deletionTimestamp"):
                st["conditions"] = [{"type": "Ready", "status": "True"}]
                pod["metadata"]["resourceVersion"] = next_rv()
            gone_at = pod["metadata"].get("_goneAt")
            if gone_at and time.time() >= gone_at:
                del STORE[("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])]
        for rs in objects("ReplicaSet"):
            live = [p for p in objects("Pod", rs["metadata"]["namespace"])
                    if owned_by(p, rs) and not p["metadata"].get("deletionTimestamp")]
            want = rs["spec"]["replicas"] - len(live)
            for _ in range(max(0, want)):
                nodes = schedulable_nodes()
                if not nodes:
                    break
                per_node = {n["metadata"]["name"]: 0 for n in nodes}
                for p in objects("Pod", rs["metadata"]["namespace"]):
                    if owned_by(p, rs) and p["spec"]["nodeName"] in per_node:
                        per_node[p["spec"]["nodeName"]] += 1
                node = min(nodes, key=lambda n: (per_node[n["metadata"]["name"]],
                                                 n["metadata"]["name"]))
                new_pod(rs, rs["spec"]["template"]["metadata"]["labels"], node, initial)
        for ds in objects("DaemonSet"):
            have = {p["spec"]["nodeName"] for p in objects("Pod", ds["metadata"]["namespace"])
                    if owned_by(p, ds)}
            for node in objects("Node"):
                if node["metadata"]["name"] not in have:
                    new_pod(ds, ds["spec"]["template"]["metadata"]["labels"], node, initial)


def controllers():
    while True:
        time.sleep(0.1)
        reconcile()


def load(fixture):
    CONFIG["ready_delay"] = float(fixture.get("ready_delay", 1.0))
    for n in fixture.get("nodes", []):
        labels = {ZONE_LABEL: n["zone"], "kubernetes.io/hostname": n["name"]}
        labels.update(n.get("labels", {}))
        spec = {"unschedulable": True} if n.get("unschedulable") else {}
        put({"kind": "Node", "metadata": {"name": n["name"], "labels": labels}, "spec": spec,
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    namespaces = {"default", "kube-system"}
    for d in fixture.get("deployments", []):
        namespaces.add(d["namespace"])
        labels = d.get("labels") or {"app": d["name"]}
        dep = put({"kind": "Deployment",
                   "metadata": {"name": d["name"], "namespace": d["namespace"], "labels": labels},
                   "spec": {"replicas": d["replicas"], "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}}}})
        put({"kind": "ReplicaSet",
             "metadata": {"name": f'{d["name"]}-7d4b9c', "namespace": d["namespace"],
                          "labels": labels, "ownerReferences": [owner_ref(dep)]},
             "spec": {"replicas": d["replicas"], "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels}}}})
    for d in fixture.get("daemonsets", []):
        namespaces.add(d["namespace"])
        labels = d.get("labels") or {"app": d["name"]}
        put({"kind": "DaemonSet",
             "metadata": {"name": d["name"], "namespace": d["namespace"], "labels": labels},
             "spec": {"selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": labels}}}})
    for p in fixture.get("pdbs", []):
        spec = {"selector": {"matchLabels": p["selector"]}}
        if "minAvailable" in p:
            spec["minAvailable"] = p["minAvailable"]
        if "maxUnavailable" in p:
            spec["maxUnavailable"] = p["maxUnavailable"]
        put({"kind": "PodDisruptionBudget",
             "metadata": {"name": p["name"], "namespace": p["namespace"]}, "spec": spec})
    for ns in sorted(namespaces):
        put({"kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}})
    reconcile(initial=True)


# ---------------------------------------------------------------- eviction

def disruption_check(pod):
    """Raise the 429 a real API server answers when evicting `pod` would take a
    PodDisruptionBudget below what it protects."""
    ns = pod["metadata"]["namespace"]
    for pdb in objects("PodDisruptionBudget", ns):
        if not selector_match(pdb["spec"].get("selector") or {}, pod["metadata"].get("labels")):
            continue
        matching = [p for p in objects("Pod", ns)
                    if selector_match(pdb["spec"]["selector"], p["metadata"].get("labels"))]
        healthy = sum(1 for p in matching if pod_ready(p))
        if "minAvailable" in pdb["spec"]:
            needed = int(pdb["spec"]["minAvailable"])
        else:
            needed = len(matching) - int(pdb["spec"].get("maxUnavailable", 0))
        victim_healthy = 1 if pod_ready(pod) else 0
        if healthy - victim_healthy < needed:
            raise ApiError(
                429, "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {"causes": [{"reason": "DisruptionBudget",
                             "message": f'The disruption budget {pdb["metadata"]["name"]} needs '
                                        f'{needed} healthy pods and has {healthy} currently'}]})


def delete_pod(pod, grace):
    """Delete now, or mark terminating and remove after `grace` seconds."""
    meta = pod["metadata"]
    if grace:
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now()
            meta["deletionGracePeriodSeconds"] = grace
            meta["_goneAt"] = time.time() + grace
            pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
            meta["resourceVersion"] = next_rv()
    else:
        STORE.pop(("Pod", meta["namespace"], meta["name"]), None)


# ---------------------------------------------------------------- discovery

def resource_entry(kind, sub=None, verbs=None):
    k = KINDS[kind]
    entry = {"name": k["plural"] + (f"/{sub}" if sub else ""), "singularName": "",
             "namespaced": k["namespaced"], "kind": kind,
             "verbs": verbs or ["create", "delete", "get", "list", "patch", "update"]}
    return entry


def discovery(path):
    if path == "/version":
        return {"major": "1", "minor": "30", "gitVersion": "v1.30.0-shakeout-test",
                "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2024-04-17T00:00:00Z",
                "goVersion": "go1.22.2", "compiler": "gc", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        groups = []
        for g in sorted({k["group"] for k in KINDS.values() if k["group"]}):
            gv = {"groupVersion": f"{g}/v1", "version": "v1"}
            groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    m = re.fullmatch(r"/apis/([^/]+)", path)
    if m and any(k["group"] == m.group(1) for k in KINDS.values()):
        gv = {"groupVersion": f"{m.group(1)}/v1", "version": "v1"}
        return {"kind": "APIGroup", "apiVersion": "v1", "name": m.group(1), "versions": [gv],
                "preferredVersion": gv}
    group = None
    if path == "/api/v1":
        group = ""
    else:
        m = re.fullmatch(r"/apis/([^/]+)/v1", path)
        if m:
            group = m.group(1)
    if group is None:
        return None
    resources = [resource_entry(kind) for kind, k in KINDS.items() if k["group"] == group]
    if group == "":
        evict = resource_entry("Pod", "eviction", ["create"])
        evict.update({"group": "policy", "version": "v1", "kind": "Eviction"})
        resources.append(evict)
        resources.append(resource_entry("Pod", "status", ["get", "patch", "update"]))
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/v1" if group else "v1", "resources": resources}


# ---------------------------------------------------------------- HTTP

ROUTE = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/v1)"
    r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?"
    r"/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$")


def public(obj):
    """An object as served: the server's private fields (leading `_`) removed."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if CONFIG.get("verbose"):
            sys.stderr.write("%s %s\n" % (self.command, self.path))

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "BadRequest", "the request body is not JSON")

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            with LOCK:
                self.dispatch(url.path.rstrip("/") or "/", query)
        except ApiError as e:
            self.send_json(e.code, e.status())
        except (KeyError, TypeError, ValueError, IndexError) as e:
            self.send_json(400, ApiError(400, "BadRequest", f"bad request: {e}").status())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def handle(self):
        # A client that gave up (a probe's timeout) is not the server's error.
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def dispatch(self, path, query):
        if self.command == "GET":
            doc = discovery(path)
            if doc is not None:
                return self.send_json(200, doc)
        m = ROUTE.match(path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group = m.group("group") or ""
        kind = BY_PLURAL.get((group, m.group("plural")))
        if kind is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns, name, sub = m.group("ns"), m.group("name"), m.group("sub")
        if KINDS[kind]["namespaced"] is False and ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "eviction" and kind == "Pod" and self.command == "POST":
            return self.evict(ns, name)
        if sub is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if self.command == "GET":
                return self.list(kind, ns, query)
            if self.command == "POST":
                return self.create(kind, ns)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        key = (kind, ns or "", name)
        obj = STORE.get(key)
        if obj is None:
            raise not_found(kind, name, group)
        if self.command == "GET":
            return self.send_json(200, public(obj))
        if self.command == "PATCH":
            return self.patch(key, obj)
        if self.command == "PUT":
            return self.replace(key, obj)
        if self.command == "DELETE":
            return self.delete(kind, key, obj, query)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def list(self, kind, ns, query):
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""))
        items = [public(o) for o in sorted(objects(kind, ns),
                                           key=lambda o: (o["metadata"].get("namespace", ""),
                                                          o["metadata"]["name"]))
                 if labels_match(labels, o["metadata"].get("labels"))
                 and fields_match(fields, o)]
        self.send_json(200, {"kind": f"{kind}List", "apiVersion": api_version(kind),
                             "metadata": {"resourceVersion": str(RV[0])}, "items": items})

    def create(self, kind, ns):
        obj = self.body()
        if not isinstance(obj, dict) or obj.get("kind") not in (None, kind):
            raise ApiError(400, "BadRequest", f"the body is not a {kind}")
        obj["kind"] = kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{kind} is invalid: metadata.name: Required value")
        if KINDS[kind]["namespaced"]:
            if meta.get("namespace") not in (None, ns):
                raise ApiError(400, "BadRequest", "the namespace of the object does not match")
            meta["namespace"] = ns
        key = (kind, ns or "", meta["name"])
        if key in STORE:
            raise ApiError(409, "AlreadyExists",
                           f'{KINDS[kind]["plural"]} "{meta["name"]}" already exists',
                           {"name": meta["name"], "kind": KINDS[kind]["plural"]})
        for f in ("uid", "resourceVersion", "creationTimestamp"):
            meta.pop(f, None)
        self.send_json(201, public(put(obj)))

    def check_precondition(self, obj, given):
        rv = (given or {}).get("metadata", {}).get("resourceVersion") \
            if isinstance(given, dict) else None
        if rv and rv != obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {KINDS[obj["kind"]]["plural"]} '
                           f'"{obj["metadata"]["name"]}": the object has been modified; please '
                           'apply your changes to the latest version and try again')

    def patch(self, key, obj):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch = self.body()
        if ctype == "application/merge-patch+json":
            self.check_precondition(obj, patch)
            new = merge_patch(obj, patch)
        elif ctype == "application/strategic-merge-patch+json":
            self.check_precondition(obj, patch)
            new = strategic_merge_patch(obj, patch)
        elif ctype == "application/json-patch+json":
            new = json_patch(obj, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media "
                           f"types include: application/json-patch+json, "
                           f"application/merge-patch+json, application/strategic-merge-patch+json")
        for f in ("name", "namespace", "uid"):
            if new["metadata"].get(f) != obj["metadata"].get(f):
                raise ApiError(422, "Invalid", f"metadata.{f}: field is immutable")
        # Private fields survive a patch (the patch never sees them).
        new["status"] = merge_patch(obj.get("status", {}), new.get("status", {}) or {}) \
            if isinstance(obj.get("status"), dict) else new.get("status")
        for k, v in obj["metadata"].items():
            if k.startswith("_"):
                new["metadata"][k] = v
        new["metadata"]["resourceVersion"] = next_rv()
        STORE[key] = new
        self.send_json(200, public(new))

    def replace(self, key, obj):
        new = self.body()
        self.check_precondition(obj, new)
        new["kind"] = obj["kind"]
        new["apiVersion"] = obj["apiVersion"]
        new["metadata"]["uid"] = obj["metadata"]["uid"]
        new["metadata"]["resourceVersion"] = next_rv()
        STORE[key] = new
        self.send_json(200, public(new))

    def delete(self, kind, key, obj, query):
        body = self.body() or {}
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        if kind == "Pod":
            delete_pod(obj, int(grace) if grace not in (None, "") else 0)
        else:
            STORE.pop(key, None)
        self.send_json(200, public(obj) if kind == "Pod" else
                       {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "details": {"name": key[2],
                                                         "kind": KINDS[kind]["plural"]}})

    def evict(self, ns, name):
        body = self.body()
        # As the real API server: the kind may be left out (the URL says it), the
        # name must match the URL's.
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
            raise ApiError(400, "BadRequest", "the body is not an Eviction")
        if (body.get("metadata") or {}).get("name") != name:
            raise ApiError(400, "BadRequest", "name in URL does not match name in Eviction object")
        pod = STORE.get(("Pod", ns, name))
        if pod is None:
            raise not_found("Pod", name)
        if not pod["metadata"].get("deletionTimestamp"):
            disruption_check(pod)
        grace = (body.get("deleteOptions") or {}).get("gracePeriodSeconds")
        delete_pod(pod, int(grace or 0))
        self.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                             "status": "Success", "code": 201})


def main():
    fixture = json.load(open(sys.argv[1]))
    CONFIG["verbose"] = bool(fixture.get("verbose"))
    load(fixture)
    server = ThreadingHTTPServer(("127.0.0.1", int(fixture.get("port", 0))), Handler)
    server.daemon_threads = True
    threading.Thread(target=controllers, daemon=True).start()
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
