#!/usr/bin/env bash
# tree.sh ROOT kubeadm|k3s [ETCD_URL] [APISERVER_URL] [METRICS_URL]
#
# Writes a control-plane node's files under ROOT, shaped as the real thing,
# for the discovery tests (fm_discover, `fleetmedic-agent --root ROOT`). The
# node is pi-master1 at 192.168.6.11 (an address the tests never dial).
#
# kubeadm (ETCD_URL default https://127.0.0.1:2379, APISERVER_URL
# https://127.0.0.1:6443, METRICS_URL http://127.0.0.1:2381):
#   the PKI of pki.sh (run unless ROOT/etc/kubernetes/pki/ca.crt exists, so a
#   test can start etcd on that PKI first and then describe it here), and
#   etc/kubernetes/manifests/etcd.yaml    as kubeadm v1.2x writes it:
#       --listen-client-urls=ETCD_URL,https://192.168.6.11:<port>,
#       --advertise-client-urls=https://192.168.6.11:<port>,
#       --listen-metrics-urls=METRICS_URL, --name=pi-master1
#   etc/kubernetes/manifests/kube-apiserver.yaml  --secure-port=<APISERVER_URL's
#       port>, --advertise-address=192.168.6.11, --etcd-servers=ETCD_URL
#   etc/kubernetes/admin.conf   server APISERVER_URL, the kubernetes CA and a
#       client certificate (CN=kubernetes-admin, O=system:masters) embedded
#       as *-data
#   etc/kubernetes/{controller-manager,scheduler}.conf  likewise, for
#       system:kube-controller-manager / system:kube-scheduler
#   etc/kubernetes/kubelet.conf  referring to
#       /var/lib/kubelet/pki/kubelet-client-current.pem (as kubeadm does)
#   etc/hostname
#
# k3s (ETCD_URL "none": no embedded etcd, else ignored: k3s's etcd is always
# https://127.0.0.1:2379; APISERVER_URL default https://127.0.0.1:6443):
#   var/lib/rancher/k3s/server/tls/  server-ca, client-ca (CAs),
#       client-admin (system:admin, system:masters), serving-kube-apiserver,
#       etcd/server-ca, etcd/peer-ca (CAs), etcd/client, etcd/server-client,
#       etcd/peer-server-client; EC P-256 keys, as k3s writes them
#   var/lib/rancher/k3s/server/db/etcd/  (unless ETCD_URL is none)
#   etc/rancher/k3s/k3s.yaml   server APISERVER_URL, server-ca and
#       client-admin embedded as *-data
#   etc/hostname
#
# Quiet on success; on failure says what failed and exits non-zero.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 5 ] || [ -z "$1" ]; then
	echo "usage: $0 ROOT kubeadm|k3s [ETCD_URL] [APISERVER_URL] [METRICS_URL]" >&2
	exit 2
fi
ROOT=$1
FLAVOR=$2
ETCD_URL=${3:-https://127.0.0.1:2379}
API_URL=${4:-https://127.0.0.1:6443}
METRICS_URL=${5:-http://127.0.0.1:2381}
NODE=pi-master1
NODE_IP=192.168.6.11
HERE=$(dirname "${BASH_SOURCE[0]}")

# port URL: the port of scheme://host:port[/path].
port() {
	local hp=${1#*://}
	hp=${hp%%/*}
	echo "${hp##*:}"
}

b64() {
	base64 -w0 <"$1"
}

# kubeconfig FILE CLUSTER USER SERVER CA_CRT CLIENT_CRT CLIENT_KEY: a
# kubeconfig with everything embedded, as kubeadm and k3s write them.
kubeconfig() {
	local file=$1 cluster=$2 user=$3 server=$4 cacrt=$5 crt=$6 key=$7 context
	if [ "$cluster" = default ]; then
		context=default
	else
		context="$user@$cluster"
	fi
	cat >"$file" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(b64 "$cacrt")
    server: $server
  name: $cluster
contexts:
- context:
    cluster: $cluster
    user: $user
  name: $context
current-context: $context
kind: Config
preferences: {}
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$crt")
    client-key-data: $(b64 "$key")
EOF
	chmod 0600 "$file"
}

kubeadm_tree() {
	local k8s=$ROOT/etc/kubernetes pki=$ROOT/etc/kubernetes/pki
	local eport aport mport scheme
	eport=$(port "$ETCD_URL")
	aport=$(port "$API_URL")
	mport=$(port "$METRICS_URL")
	scheme=${ETCD_URL%%://*}

	if [ ! -f "$pki/ca.crt" ]; then
		"$HERE/pki.sh" "$ROOT" "$NODE"
	fi
	# shellcheck source=pki-lib.sh
	. "$HERE/pki-lib.sh"
	pki_init "$NODE"
	mkdir -p "$k8s/manifests" "$ROOT/var/lib/kubelet/pki"

	leaf "$WORK/admin" "/O=system:masters/CN=kubernetes-admin" "$pki/ca" client
	leaf "$WORK/cm" "/CN=system:kube-controller-manager" "$pki/ca" client
	leaf "$WORK/sched" "/CN=system:kube-scheduler" "$pki/ca" client
	leaf "$WORK/kubelet" "/O=system:nodes/CN=system:node:$NODE" "$pki/ca" client
	cat "$WORK/kubelet.crt" "$WORK/kubelet.key" >"$ROOT/var/lib/kubelet/pki/kubelet-client-current.pem"

	kubeconfig "$k8s/admin.conf" kubernetes kubernetes-admin "$API_URL" "$pki/ca.crt" \
		"$WORK/admin.crt" "$WORK/admin.key"
	kubeconfig "$k8s/controller-manager.conf" kubernetes system:kube-controller-manager \
		"$API_URL" "$pki/ca.crt" "$WORK/cm.crt" "$WORK/cm.key"
	kubeconfig "$k8s/scheduler.conf" kubernetes system:kube-scheduler "$API_URL" \
		"$pki/ca.crt" "$WORK/sched.crt" "$WORK/sched.key"
	cat >"$k8s/kubelet.conf" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: $(b64 "$pki/ca.crt")
    server: https://$NODE_IP:$aport
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:$NODE
  name: system:node:$NODE@kubernetes
current-context: system:node:$NODE@kubernetes
kind: Config
preferences: {}
users:
- name: system:node:$NODE
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: /var/lib/kubelet/pki/kubelet-client-current.pem
EOF
	chmod 0600 "$k8s/kubelet.conf"

	cat >"$k8s/manifests/etcd.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: $scheme://$NODE_IP:$eport
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=$scheme://$NODE_IP:$eport
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --experimental-initial-corrupt-check=true
    - --experimental-watch-progress-notify-interval=5s
    - --initial-advertise-peer-urls=https://$NODE_IP:2380
    - --initial-cluster=$NODE=https://$NODE_IP:2380
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=$ETCD_URL,$scheme://$NODE_IP:$eport
    - --listen-metrics-urls=$METRICS_URL
    - --listen-peer-urls=https://$NODE_IP:2380
    - --name=$NODE
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.5.9-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /health?exclude=NOSPACE&serializable=true
        port: $mport
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /health?serializable=false
        port: $mport
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
EOF

	cat >"$k8s/manifests/kube-apiserver.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: $NODE_IP:$aport
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=$NODE_IP
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --enable-bootstrap-token-auth=true
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=$ETCD_URL
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt
    - --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key
    - --requestheader-allowed-names=front-proxy-client
    - --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt
    - --requestheader-extra-headers-prefix=X-Remote-Extra-
    - --requestheader-group-headers=X-Remote-Group
    - --requestheader-username-headers=X-Remote-User
    - --secure-port=$aport
    - --service-account-issuer=https://kubernetes.default.svc.cluster.local
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/kube-apiserver:v1.28.2
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: $NODE_IP
        path: /livez
        port: $aport
        scheme: HTTPS
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: kube-apiserver
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: $NODE_IP
        path: /readyz
        port: $aport
        scheme: HTTPS
      periodSeconds: 1
      timeoutSeconds: 15
    resources:
      requests:
        cpu: 250m
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
status: {}
EOF
}

k3s_tree() {
	local tls=$ROOT/var/lib/rancher/k3s/server/tls ts
	# shellcheck source=pki-lib.sh
	. "$HERE/pki-lib.sh"
	pki_init "$NODE"
	KEY_ALG=ec
	ts=$(date +%s)
	mkdir -p "$tls/etcd" "$ROOT/etc/rancher/k3s"

	ca "$tls/server-ca" "k3s-server-ca@$ts"
	ca "$tls/client-ca" "k3s-client-ca@$ts"
	leaf "$tls/client-admin" "/O=system:masters/CN=system:admin" "$tls/client-ca" client
	leaf "$tls/serving-kube-apiserver" "/CN=kube-apiserver" "$tls/server-ca" server
	ca "$tls/etcd/server-ca" "etcd-server-ca@$ts"
	ca "$tls/etcd/peer-ca" "etcd-peer-ca@$ts"
	leaf "$tls/etcd/client" "/CN=etcd-client" "$tls/etcd/server-ca" client
	leaf "$tls/etcd/server-client" "/CN=etcd-server" "$tls/etcd/server-ca" etcd_server
	leaf "$tls/etcd/peer-server-client" "/CN=etcd-peer" "$tls/etcd/peer-ca" etcd_server
	if [ "$ETCD_URL" != none ]; then
		mkdir -p "$ROOT/var/lib/rancher/k3s/server/db/etcd"
	fi
	kubeconfig "$ROOT/etc/rancher/k3s/k3s.yaml" default default "$API_URL" \
		"$tls/server-ca.crt" "$tls/client-admin.crt" "$tls/client-admin.key"
}

mkdir -p "$ROOT/etc"
case $FLAVOR in
kubeadm) kubeadm_tree ;;
k3s) k3s_tree ;;
*)
	echo "$0: flavor must be kubeadm or k3s, not '$FLAVOR'" >&2
	exit 2
	;;
esac
echo "$NODE" >"$ROOT/etc/hostname"
chmod 0644 "$ROOT/etc/hostname"
