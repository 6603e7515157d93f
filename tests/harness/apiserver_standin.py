#!/usr/bin/env python3
"""apiserver_standin.py: a TLS stand-in for kube-apiserver serving the
documented response formats; not a kube-apiserver.

No kube-apiserver can be installed on the test machines, so the agent's
apiserver probe is tested against this: a small HTTPS server (Python 3
standard library only) that answers the handful of requests the agent sends
the way kube-apiserver answers them, from a scenario file. It implements no
Kubernetes behaviour beyond that; everything it serves is canned.

What it serves, byte for byte as kube-apiserver does (the healthz handler of
k8s.io/apiserver/pkg/server/healthz, the /version handler, the JSON
serializer of core/v1 lists and meta/v1 Status):

  GET /livez, /readyz, /healthz   "ok" (200) when every check passes; with
        ?verbose one "[+]NAME ok" line per check and "NAME check passed".
        When any check fails the answer is 500 and always verbose:
        "[-]NAME failed: reason withheld" (the public endpoint never says
        why), last line "NAME check failed". ?exclude=NAME skips a check
        ("[+]NAME excluded: ok").
  GET /livez/NAME, /readyz/NAME   "ok", or 500 "internal server error: REASON"
        with the scenario's reason (what an authorised caller sees).
  GET /version                    the version.Info JSON, indented.
  GET /api/v1/nodes               a NodeList; ?limit=N with metadata.continue
                                  and remainingItemCount.
  GET /api/v1/namespaces/NS/pods  a PodList, likewise.

Authentication: a client certificate signed by --client-ca (requested, not
required, as kube-apiserver does) or "Authorization: Bearer TOKEN" matching
--token. Anonymous requests (the scenario's "anonymous"):
  "endpoints" (default)  allowed on /livez /readyz /healthz /version only,
                         401 elsewhere: kube-apiserver 1.32+ with anonymous
                         authentication limited to those paths
  "all"                  allowed everywhere, and RBAC forbids system:anonymous
                         to list nodes and pods: 403 (kubeadm's classic
                         --anonymous-auth=true)
  "none"                 401 everywhere (--anonymous-auth=false)
A bearer token that does not match is 401 whatever the mode.

A client certificate is not refused in the TLS handshake when it is signed
by a CA given with --tls-accept-ca (kubeadm's etcd CA, say): as in
kube-apiserver, whose x509 authenticator, not the TLS layer, judges it, the
request goes on and gets 401 on every path. (Python's TLS layer cannot take
a certificate it cannot verify at all: one from a CA given nowhere still
fails the handshake; that is the one difference left.)

Bodies longer than 2048 bytes are sent with Transfer-Encoding: chunked, in
4096-byte chunks, as Go's net/http sends a handler's output once it outgrew
its 2 KiB buffer (large node and pod lists); "chunked" is logged with it.

A health endpoint whose failing checks include one named in "delay_s"'s
endpoint answers after that many seconds: kube-apiserver's etcd check waits
--etcd-healthcheck-timeout (2 s by default) for an etcd that hangs.

The scenario file (JSON; every key optional):

  {
    "version": {"gitVersion": "v1.19.4", "platform": "linux/arm64", ...},
    "anonymous": "endpoints" | "all" | "none",
    "livez":  {"checks": ["ping", "log", "etcd", ...],
               "failing": {"etcd": "the reason an authorised caller sees"}},
    "readyz": {...the same...},     each also "delay_s": 2 (see above)
    "ignore_limit": false,          true: answer lists whole, ignoring ?limit
    "nodes": [{"name": "pi-master1", "ready": "True" | "False" | "Unknown",
               "ready_reason": "KubeletNotReady", "ready_message": "...",
               "pressure": ["DiskPressure", "MemoryPressure", "PIDPressure"],
               "network_unavailable": false}],
    "pods": [{"name": "kube-apiserver-pi-master1", "namespace": "kube-system",
              "node": "pi-master1", "phase": "Running",
              "reason": "Evicted", "message": "...",
              "containers": [{"name": "kube-apiserver", "ready": false,
                              "restartCount": 23,
                              "state": {"waiting": {"reason": "CreateContainerError",
                                                    "message": "..."}},
                              "lastState": {"terminated": {"exitCode": 0,
                                                           "reason": "Completed"}}}]}],
    "filler_pods": {"count": 300, "prefix": "filler-", "namespace": "kube-system"}
  }

A container's "state" is passed through as given ({"waiting": ...},
{"running": {"startedAt": ...}} or {"terminated": {"exitCode": ...}}); absent,
it is running.

It binds only loopback addresses, and prints one line when it listens:
"apiserver-standin: ready on https://HOST:PORT (...)", for a test to wait on.
Requests are logged to stderr without their headers (a token never appears).
"""

import argparse
import hmac
import ipaddress
import json
import socket
import ssl
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WHAT = "a TLS stand-in for kube-apiserver serving the documented response formats; not a kube-apiserver"

# The checks kube-apiserver 1.28 installs, in its order.
POSTSTART = [
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/priority-and-fairness-config-consumer",
    "poststarthook/priority-and-fairness-filter",
    "poststarthook/storage-object-count-tracker-hook",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/start-system-namespaces-controller",
    "poststarthook/bootstrap-controller",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/priority-and-fairness-config-producer",
    "poststarthook/start-cluster-authentication-info-controller",
    "poststarthook/start-kube-apiserver-identity-lease-controller",
    "poststarthook/start-kube-apiserver-identity-lease-garbage-collector",
    "poststarthook/start-legacy-token-tracking-controller",
    "poststarthook/aggregator-reload-proxy-client-cert",
    "poststarthook/start-kube-aggregator-informers",
    "poststarthook/apiservice-registration-controller",
    "poststarthook/apiservice-status-available-controller",
    "poststarthook/kube-apiserver-autoregistration",
    "autoregister-completion",
    "poststarthook/apiservice-openapi-controller",
    "poststarthook/apiservice-openapiv3-controller",
    "poststarthook/apiservice-discovery-controller",
]
DEFAULT_CHECKS = {
    "livez": ["ping", "log", "etcd"] + POSTSTART,
    "readyz": ["ping", "log", "etcd", "etcd-readiness", "informer-sync"] + POSTSTART + ["shutdown"],
}
DEFAULT_CHECKS["healthz"] = DEFAULT_CHECKS["livez"]

DEFAULT_VERSION = {
    "major": "1",
    "minor": "28",
    "gitVersion": "v1.28.15",
    "gitCommit": "0000000000000000000000000000000000000000",  # canned
    "gitTreeState": "clean",
    "buildDate": "2024-10-22T00:00:00Z",
    "goVersion": "go1.22.8",
    "compiler": "gc",
    "platform": "linux/arm64",
}
VERSION_KEYS = list(DEFAULT_VERSION)

ANON_PATHS = ("/livez", "/readyz", "/healthz", "/version")
CREATED = "2021-03-12T03:29:00Z"

# Kubelet's words for each node condition (pkg/kubelet/nodestatus/setters.go).
CONDITION_WORDS = {
    "MemoryPressure": {
        "True": ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
        "False": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    },
    "DiskPressure": {
        "True": ("KubeletHasDiskPressure", "kubelet has disk pressure"),
        "False": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    },
    "PIDPressure": {
        "True": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
        "False": ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    },
    "Ready": {
        "True": ("KubeletReady", "kubelet is posting ready status"),
        "False": ("KubeletNotReady", "container runtime status check may not have completed yet"),
    },
}


class ScenarioError(Exception):
    pass


def check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise ScenarioError(f"{where}: an object expected")
    unknown = set(obj) - set(allowed)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(allowed)}")


def status(code, reason, message, details=None):
    """A meta/v1 Status as the JSON serializer writes it (compact, newline)."""
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


def node_object(n, i, kubelet_version):
    check_keys(n, ["name", "ready", "ready_reason", "ready_message", "pressure",
                   "network_unavailable", "conditions"], "nodes[]")
    name = n["name"]
    if "conditions" in n:
        conditions = n["conditions"]
    else:
        ready = n.get("ready", "True")
        pressure = set(n.get("pressure", []))
        conditions = []
        if "network_unavailable" in n:
            down = bool(n["network_unavailable"])
            conditions.append({
                "type": "NetworkUnavailable", "status": "True" if down else "False",
                "lastHeartbeatTime": CREATED, "lastTransitionTime": CREATED,
                "reason": "NoRouteCreated" if down else "FlannelIsUp",
                "message": "Node created without a route" if down else "Flannel is running on this node"})
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"):
            if t == "Ready":
                st = ready
            elif ready == "Unknown":
                st = "Unknown"
            else:
                st = "True" if t in pressure else "False"
            if st == "Unknown":
                reason, message = "NodeStatusUnknown", "Kubelet stopped posting node status."
            else:
                reason, message = CONDITION_WORDS[t][st]
            if t == "Ready" and st != "True":
                reason = n.get("ready_reason", reason)
                message = n.get("ready_message", message)
            conditions.append({"type": t, "status": st, "lastHeartbeatTime": CREATED,
                               "lastTransitionTime": CREATED, "reason": reason, "message": message})
    return {
        "metadata": {"name": name, "uid": f"5e7c3a9d-0000-4000-8000-{i:012d}",
                     "resourceVersion": str(1000 + i), "creationTimestamp": CREATED,
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
        "status": {"conditions": conditions,
                   "nodeInfo": {"kubeletVersion": kubelet_version, "osImage": "Ubuntu 20.04.2 LTS",
                                "containerRuntimeVersion": "docker://19.3.8",
                                "architecture": "arm64", "operatingSystem": "linux"}},
    }


def container_status(c, i):
    check_keys(c, ["name", "ready", "restartCount", "state", "lastState", "image"], "containers[]")
    name = c["name"]
    st = c.get("state", {"running": {"startedAt": CREATED}})
    return {
        "name": name,
        "state": st,
        "lastState": c.get("lastState", {}),
        "ready": bool(c.get("ready", "running" in st)),
        "restartCount": int(c.get("restartCount", 0)),
        "image": c.get("image", f"k8s.gcr.io/{name}:v1.19.4"),
        "imageID": "docker-pullable://k8s.gcr.io/" + name + "@sha256:" + "0" * 64,
        "containerID": f"docker://{i:064x}",
        "started": "running" in st,
    }


def pod_object(p, i):
    check_keys(p, ["name", "namespace", "node", "phase", "reason", "message", "containers",
                   "initContainers"], "pods[]")
    ns = p.get("namespace", "kube-system")
    st = {"phase": p.get("phase", "Running")}
    if "reason" in p:
        st["reason"] = p["reason"]
    if "message" in p:
        st["message"] = p["message"]
    st["startTime"] = CREATED
    if "initContainers" in p:
        st["initContainerStatuses"] = [container_status(c, i * 32 + 16 + j)
                                       for j, c in enumerate(p["initContainers"])]
    if "containers" in p:
        st["containerStatuses"] = [container_status(c, i * 32 + j)
                                   for j, c in enumerate(p["containers"])]
    st["qosClass"] = "Burstable"
    return {
        "metadata": {"name": p["name"], "namespace": ns,
                     "uid": f"1403dda5-3aff-4dfe-8113-{i:012d}",
                     "resourceVersion": str(5000 + i), "creationTimestamp": CREATED},
        "spec": {"nodeName": p.get("node", "pi-master1"),
                 "containers": [{"name": c["name"]} for c in p.get("containers", [])]},
        "status": st,
    }


class Scenario:
    def __init__(self, doc):
        check_keys(doc, ["version", "anonymous", "livez", "readyz", "healthz", "nodes", "pods",
                         "filler_pods", "ignore_limit", "comment"], "scenario")
        v = doc.get("version", {})
        check_keys(v, VERSION_KEYS, "version")
        self.version = dict(DEFAULT_VERSION, **v)
        self.anonymous = doc.get("anonymous", "endpoints")
        if self.anonymous not in ("endpoints", "all", "none"):
            raise ScenarioError('anonymous: "endpoints", "all" or "none"')
        self.checks = {}
        self.failing = {}
        self.delay = {}
        for ep in ("livez", "readyz", "healthz"):
            h = doc.get(ep, {})
            check_keys(h, ["checks", "failing", "delay_s"], ep)
            checks = list(h.get("checks", DEFAULT_CHECKS[ep]))
            failing = dict(h.get("failing", {}))
            for name in failing:
                if name not in checks:
                    checks.append(name)
            self.checks[ep] = checks
            self.failing[ep] = failing
            self.delay[ep] = float(h.get("delay_s", 0))
        # /healthz is the livez checks unless said otherwise.
        if "healthz" not in doc:
            self.checks["healthz"], self.failing["healthz"] = self.checks["livez"], self.failing["livez"]
            self.delay["healthz"] = self.delay["livez"]
        self.ignore_limit = bool(doc.get("ignore_limit", False))
        self.nodes = [node_object(n, i, self.version["gitVersion"]) for i, n in enumerate(doc.get("nodes", []))]
        pods = list(doc.get("pods", []))
        filler = doc.get("filler_pods")
        if filler:
            check_keys(filler, ["count", "prefix", "namespace"], "filler_pods")
            for k in range(int(filler["count"])):
                pods.append({"name": f"{filler.get('prefix', 'filler-')}{k}",
                             "namespace": filler.get("namespace", "kube-system"),
                             "containers": [{"name": "filler", "ready": True}]})
        self.pods = [pod_object(p, i) for i, p in enumerate(pods)]


def list_page(items, query, ignore_limit, rv):
    """items[start:start+limit] with ListMeta as kube-apiserver pages lists
    (?limit, ?continue; remainingItemCount when more remain)."""
    start = 0
    cont = query.get("continue", [""])[0]
    if cont:
        try:
            start = int(cont.split(":", 1)[1])
        except (IndexError, ValueError):
            return None
    meta = {"resourceVersion": rv}
    limit = query.get("limit", [""])[0]
    if limit and not ignore_limit:
        try:
            n = int(limit)
        except ValueError:
            n = 0
        if n > 0 and start + n < len(items):
            meta["continue"] = f"standin:{start + n}"
            meta["remainingItemCount"] = len(items) - start - n
            return meta, items[start:start + n]
    return meta, items[start:]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "apiserver-standin"

    # Go's net/http sends no Server header.
    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):
        sys.stderr.write("apiserver-standin: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body, ctype, extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Audit-Id", "00000000-0000-4000-8000-000000000000")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        chunked = len(data) > 2048
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if not chunked:
            self.wfile.write(data)
            return
        sys.stderr.write(f"apiserver-standin: {self.path}: chunked, {len(data)} bytes\n")
        for i in range(0, len(data), 4096):
            part = data[i:i + 4096]
            self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def reply_json(self, code, obj):
        # The API serializer: compact, one newline.
        self.reply(code, json.dumps(obj, separators=(",", ":")) + "\n", "application/json")

    def text_error(self, code, msg):
        # Go's http.Error: the message and a newline, with nosniff.
        self.reply(code, msg + "\n", "text/plain; charset=utf-8",
                   [("X-Content-Type-Options", "nosniff")])

    # --- authentication ----------------------------------------------------

    def user(self):
        """(user, authenticated, bad_token)"""
        auth = self.headers.get("Authorization", "")
        if auth:
            parts = auth.split(" ", 1)
            token = self.server.token
            if (len(parts) == 2 and parts[0].lower() == "bearer" and token and
                    hmac.compare_digest(parts[1].strip().encode(), token.encode())):
                return "standin-token-user", True, False
            return None, False, True
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if cert:
            if self.server.client_ca_subject is not None and cert.get("issuer") != self.server.client_ca_subject:
                # passed the handshake (--tls-accept-ca), not the authenticator
                return None, False, True
            cn = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
            return (cn[0] if cn else "unknown"), True, False
        return "system:anonymous", False, False

    # --- handlers ----------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        sc = self.server.scenario
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query, keep_blank_values=True)
        user, authed, bad_token = self.user()
        anon_ok = (sc.anonymous == "all" or
                   (sc.anonymous == "endpoints" and
                    any(path == p or path.startswith(p + "/") for p in ANON_PATHS)))
        if bad_token or (not authed and not anon_ok):
            return self.reply_json(401, status(401, "Unauthorized", "Unauthorized"))

        top = path.strip("/").split("/")[0]
        if top in ("livez", "readyz", "healthz"):
            return self.health(top, path, query)
        if path == "/version":
            body = json.dumps(sc.version, indent=2)  # json.MarshalIndent(v, "", "  ")
            return self.reply(200, body, "application/json")
        if path == "/api/v1/nodes":
            if not authed:
                return self.forbidden(user, "nodes", None)
            return self.list("NodeList", sc.nodes, query, "1234")
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            ns = parts[3]
            if not authed:
                return self.forbidden(user, "pods", ns)
            pods = [p for p in sc.pods if p["metadata"]["namespace"] == ns]
            return self.list("PodList", pods, query, "5678")
        if top in ("api", "apis"):
            return self.reply_json(404, status(404, "NotFound",
                                               "the server could not find the requested resource",
                                               {}))
        return self.text_error(404, "404 page not found")

    def forbidden(self, user, resource, ns):
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        msg = (f'{resource} is forbidden: User "{user}" cannot list resource "{resource}" '
               f'in API group "" {scope}')
        return self.reply_json(403, status(403, "Forbidden", msg, {"kind": resource}))

    def list(self, kind, items, query, rv):
        page = list_page(items, query, self.server.scenario.ignore_limit, rv)
        if page is None:
            return self.reply_json(400, status(400, "BadRequest", "continue key is not valid"))
        meta, chunk = page
        return self.reply_json(200, {"kind": kind, "apiVersion": "v1", "metadata": meta,
                                     "items": chunk})

    def health(self, name, path, query):
        sc = self.server.scenario
        checks, failing = sc.checks[name], sc.failing[name]
        sub = path.strip("/")[len(name):].strip("/")
        if sc.delay[name] and any(c in failing for c in ([sub] if sub else checks)):
            time.sleep(sc.delay[name])
        if sub:
            # One check: what an authorised caller sees, reason included.
            if sub not in checks:
                return self.text_error(404, "404 page not found")
            if sub in failing:
                return self.text_error(500, f"internal server error: {failing[sub]}")
            return self.reply(200, "ok", "text/plain; charset=utf-8",
                              [("X-Content-Type-Options", "nosniff")])
        excluded = [e for v in query.get("exclude", []) for e in v.split(",") if e] \
            if "exclude" in query else []
        excluded_left = list(dict.fromkeys(excluded))
        out = []
        failed = False
        for c in checks:
            if c in excluded_left:
                excluded_left.remove(c)
                out.append(f"[+]{c} excluded: ok\n")
                continue
            if c in failing:
                out.append(f"[-]{c} failed: reason withheld\n")
                failed = True
            else:
                out.append(f"[+]{c} ok\n")
        if excluded_left:
            quoted = ",".join(json.dumps(e) for e in sorted(excluded_left))
            out.append(f"warn: some health checks cannot be excluded: no matches for {quoted}\n")
        if failed:
            # Always verbose on failure, through http.Error (adds "\n").
            return self.text_error(500, "".join(out) + f"{name} check failed")
        if "verbose" not in query:
            return self.reply(200, "ok", "text/plain; charset=utf-8",
                              [("X-Content-Type-Options", "nosniff")])
        return self.reply(200, "".join(out) + f"{name} check passed\n",
                          "text/plain; charset=utf-8", [("X-Content-Type-Options", "nosniff")])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, ctx, scenario, token, client_ca_subject):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        self.ctx = ctx
        self.scenario = scenario
        self.token = token
        self.client_ca_subject = client_ca_subject
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would look the address up (getfqdn): a DNS
        # query on a machine that may have no resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # The handshake runs in the request's thread: a client that stalls
        # in it holds only that thread.
        request.settimeout(10)
        # Go's net package sets TCP_NODELAY on every TCP connection, so
        # kube-apiserver does: without it a head and a body written apart
        # wait for the client's delayed ACK (40 ms an answer).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write(f"apiserver-standin: {client_address[0]}: TLS handshake failed: {e}\n")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=f"apiserver_standin.py: {WHAT}.")
    ap.add_argument("--port", type=int, default=6443, help="0: any free port")
    ap.add_argument("--bind", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    ap.add_argument("--cert", required=True, help="server certificate (PEM), e.g. ROOT/etc/kubernetes/pki/apiserver.crt")
    ap.add_argument("--key", required=True, help="its key")
    ap.add_argument("--client-ca", help="CA for client certificates (kubernetes CA); none: no client certificates")
    ap.add_argument("--tls-accept-ca", help="CA whose client certificates pass the TLS handshake but not "
                    "authentication (401), as kube-apiserver treats any it does not trust")
    ap.add_argument("--token", help="the bearer token that authenticates")
    ap.add_argument("--scenario", help="scenario JSON file (see the docstring)")
    args = ap.parse_args()

    try:
        if not ipaddress.ip_address(args.bind).is_loopback:
            ap.error(f"--bind {args.bind}: only loopback addresses")
    except ValueError:
        ap.error(f"--bind {args.bind}: an IP address literal")
    try:
        doc = {}
        if args.scenario:
            with open(args.scenario, encoding="utf-8") as f:
                doc = json.load(f)
        scenario = Scenario(doc)
    except (OSError, ValueError, KeyError, ScenarioError) as e:
        print(f"apiserver-standin: scenario {args.scenario}: {e}", file=sys.stderr)
        return 2

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    client_ca_subject = None
    if args.client_ca:
        # kube-apiserver asks for a client certificate and takes none too.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(args.client_ca)
        if args.tls_accept_ca:
            ctx.load_verify_locations(args.tls_accept_ca)
            # the issuer a trusted certificate names (getpeercert's form)
            client_ca_subject = ssl._ssl._test_decode_cert(args.client_ca)["subject"]

    srv = Server((args.bind, args.port), ctx, scenario, args.token, client_ca_subject)
    host, port = srv.server_address[:2]
    hostpart = f"[{host}]" if ":" in host else host
    print(f"apiserver-standin: ready on https://{hostpart}:{port} ({WHAT})", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
