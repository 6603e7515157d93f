#!/usr/bin/python3
"""cri_client: an independent CRI client for the tests (the tests' kubelet).

Talks runtime.v1 (RuntimeService, ImageService) to a container runtime over
its unix socket, with stubs generated at run time, by grpc_tools.protoc, from
the project's own proto (firmware-agent/sources/cri/cri_runtime_v1.proto) into
a temporary directory: what the agent speaks is what the tests speak, and no
generated code is committed. Run with Debian's /usr/bin/python3
(python3-grpcio, python3-grpc-tools).

    cri_client.py --endpoint unix:///PATH [--timeout S] [--image REF]
                  [--cgroup-parent P] [--log-root DIR] [--proto FILE]
                  COMMAND ARGS...

Every command prints one JSON document on stdout and exits 0; a failed call
(refused by the runtime, or no runtime there: UNAVAILABLE) prints {"error":
{"code": "UNKNOWN", "details": "..."}}, the runtime's own message, and exits
1; anything else (bad usage, no proto, a bug here) exits 2 or 3 with the
reason on stderr. Every call has a deadline (--timeout, default 30 s).

    version                           Version
    runp NAME NAMESPACE UID ATTEMPT   RunPodSandbox as kubelet asks for a
                                      static pod: its labels, the node's
                                      network, pid and ipc namespaces
                                      -> {"id": ...}
    create SANDBOX NAME ATTEMPT [CMD...]
                                      CreateContainer of --image with
                                      kubelet's labels and the sandbox's
                                      config again (read back from its
                                      status); CMD replaces the image's
                                      command -> {"id": ...}
    start ID | stop ID [TIMEOUT] | rm ID
    stopp ID | rmp ID | inspectp ID   the sandbox calls
    ps | pods | inspect ID | images   ListContainers, ListPodSandbox,
                                      ContainerStatus, ListImages
    rmall                             every pod stopped and removed (and so
                                      its containers), then any container
                                      left: the harness's clean stop

With --log-root, pods get kubelet's log layout under it:
DIR/<namespace>_<name>_<uid>/<container>/<attempt>.log.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc
from google.protobuf import json_format
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.normpath(
    os.path.join(HERE, "..", "..", "firmware-agent", "sources", "cri", "cri_runtime_v1.proto"))
DEFAULT_IMAGE = "docker.io/fmtest/busybox:test"


def load_stubs(proto, tmp):
    """Generates the python modules for proto into tmp and imports them."""
    inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["grpc_tools.protoc", "-I", os.path.dirname(proto), "-I", inc,
                      "--python_out", tmp, "--grpc_python_out", tmp, proto])
    if rc != 0:
        print("cri_client: protoc failed on %s" % proto, file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, tmp)
    base = os.path.splitext(os.path.basename(proto))[0]
    return importlib.import_module(base + "_pb2"), importlib.import_module(base + "_pb2_grpc")


def as_dict(msg):
    # Defaults included: exit_code 0 and state CONTAINER_CREATED are facts.
    return json_format.MessageToDict(msg, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


class Partial(Exception):
    """Some of a best-effort command's calls failed: its report."""


class Client:
    def __init__(self, opts, pb, rpc):
        self.o, self.pb = opts, pb
        self.ch = grpc.insecure_channel(opts.endpoint)
        self.rt = rpc.RuntimeServiceStub(self.ch)
        self.im = rpc.ImageServiceStub(self.ch)

    def call(self, stub, method, req):
        return getattr(stub, method)(req, timeout=self.o.timeout)

    def sandbox_config(self, name, namespace, uid, attempt):
        """What kubelet sends for a host-network static pod (as the
        apiserver's): metadata, its labels, the node's namespaces."""
        pb = self.pb
        node = pb.NamespaceOption(network=pb.NODE, pid=pb.NODE, ipc=pb.NODE)
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace=namespace, uid=uid,
                                           attempt=int(attempt)),
            labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                    "io.kubernetes.pod.uid": uid},
            annotations={"kubernetes.io/config.source": "file"},
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=self.o.cgroup_parent or "",
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=node)))
        if self.o.log_root:
            cfg.log_directory = os.path.join(self.o.log_root,
                                             "%s_%s_%s" % (namespace, name, uid))
        return cfg

    def version(self):
        return as_dict(self.call(self.rt, "Version", self.pb.VersionRequest(version="v1")))

    def runp(self, name, namespace, uid, attempt):
        req = self.pb.RunPodSandboxRequest(config=self.sandbox_config(name, namespace, uid, attempt))
        return {"id": self.call(self.rt, "RunPodSandbox", req).pod_sandbox_id}

    def create(self, sandbox, name, attempt, *cmd):
        pb = self.pb
        st = self.call(self.rt, "PodSandboxStatus",
                       pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox)).status
        md = st.metadata
        # The sandbox's config again, as kubelet passes it with every create.
        scfg = self.sandbox_config(md.name, md.namespace, md.uid, md.attempt)
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=int(attempt)),
            image=pb.ImageSpec(image=self.o.image), command=list(cmd),
            labels={"io.kubernetes.container.name": name, "io.kubernetes.pod.name": md.name,
                    "io.kubernetes.pod.namespace": md.namespace, "io.kubernetes.pod.uid": md.uid},
            annotations={"io.kubernetes.container.restartCount": str(int(attempt))})
        if scfg.log_directory:
            cfg.log_path = os.path.join(name, "%d.log" % int(attempt))
        req = pb.CreateContainerRequest(pod_sandbox_id=sandbox, config=cfg, sandbox_config=scfg)
        return {"id": self.call(self.rt, "CreateContainer", req).container_id}

    def start(self, cid):
        self.call(self.rt, "StartContainer", self.pb.StartContainerRequest(container_id=cid))
        return {"id": cid}

    def stop(self, cid, timeout="10"):
        self.call(self.rt, "StopContainer",
                  self.pb.StopContainerRequest(container_id=cid, timeout=int(timeout)))
        return {"id": cid}

    def rm(self, cid):
        self.call(self.rt, "RemoveContainer", self.pb.RemoveContainerRequest(container_id=cid))
        return {"id": cid}

    def stopp(self, sid):
        self.call(self.rt, "StopPodSandbox", self.pb.StopPodSandboxRequest(pod_sandbox_id=sid))
        return {"id": sid}

    def rmp(self, sid):
        self.call(self.rt, "RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=sid))
        return {"id": sid}

    def inspectp(self, sid):
        r = self.call(self.rt, "PodSandboxStatus", self.pb.PodSandboxStatusRequest(pod_sandbox_id=sid))
        return as_dict(r.status)

    def inspect(self, cid):
        r = self.call(self.rt, "ContainerStatus", self.pb.ContainerStatusRequest(container_id=cid))
        return as_dict(r.status)

    def ps(self):
        r = self.call(self.rt, "ListContainers", self.pb.ListContainersRequest())
        return [as_dict(c) for c in r.containers]

    def pods(self):
        r = self.call(self.rt, "ListPodSandbox", self.pb.ListPodSandboxRequest())
        return [as_dict(p) for p in r.items]

    def rmall(self):
        """Best effort: goes on past a failure, reports each, fails at the end."""
        done, errors = [], []
        rt, pb = self.rt, self.pb
        steps = [("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=p.id))
                 for p in self.call(rt, "ListPodSandbox", pb.ListPodSandboxRequest()).items]
        steps += [("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=r.pod_sandbox_id))
                  for _, r in list(steps)]
        for method, req in steps:
            try:
                self.call(rt, method, req)
                done.append("%s %s" % (method, req.pod_sandbox_id))
            except grpc.RpcError as e:
                errors.append("%s %s: %s" % (method, req.pod_sandbox_id, e.details()))
        for c in self.call(rt, "ListContainers", pb.ListContainersRequest()).containers:
            try:
                self.call(rt, "RemoveContainer", pb.RemoveContainerRequest(container_id=c.id))
                done.append("RemoveContainer %s" % c.id)
            except grpc.RpcError as e:
                errors.append("RemoveContainer %s: %s" % (c.id, e.details()))
        if errors:
            raise Partial({"done": done, "errors": errors})
        return {"done": done}

    def images(self):
        r = self.call(self.im, "ListImages", self.pb.ListImagesRequest())
        return [as_dict(i) for i in r.images]


# command: (least, most) positional arguments; None: any number.
COMMANDS = {"version": (0, 0), "runp": (4, 4), "create": (3, None), "start": (1, 1),
            "stop": (1, 2), "rm": (1, 1), "stopp": (1, 1), "rmp": (1, 1), "inspectp": (1, 1),
            "inspect": (1, 1), "ps": (0, 0), "pods": (0, 0), "images": (0, 0), "rmall": (0, 0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True, help="unix:///path/to/socket")
    ap.add_argument("--timeout", type=float, default=30.0, help="deadline of every call, s")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--cgroup-parent", default="", help="the pods' cgroup parent")
    ap.add_argument("--log-root", default="", help="pods' log dirs under it (kubelet's /var/log/pods)")
    ap.add_argument("--proto", default=PROTO)
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("args", nargs=argparse.REMAINDER)
    o = ap.parse_args()
    least, most = COMMANDS[o.command]
    if len(o.args) < least or (most is not None and len(o.args) > most):
        ap.error("%s: wrong number of arguments" % o.command)
    with tempfile.TemporaryDirectory(prefix="cri_client.") as tmp:
        pb, rpc = load_stubs(o.proto, tmp)
        c = Client(o, pb, rpc)
        try:
            out = getattr(c, o.command)(*o.args)
        except grpc.RpcError as e:
            err = {"code": e.code().name, "details": e.details()}
            print(json.dumps({"error": err}))
            print("cri_client %s: %s: %s" % (o.command, err["code"], err["details"]), file=sys.stderr)
            return 1
        except Partial as e:
            print(json.dumps(e.args[0]))
            print("cri_client %s: %s" % (o.command, "; ".join(e.args[0]["errors"])), file=sys.stderr)
            return 1
        finally:
            c.ch.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # not the runtime's answer: tell it apart from exit 1
        import traceback
        traceback.print_exc()
        sys.exit(3)
