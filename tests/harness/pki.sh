#!/usr/bin/env bash
# pki.sh OUTDIR [NODE_NAME]
#
# Writes a kubeadm-like PKI for integration tests, laid out as on a real
# kubeadm control-plane node:
#
#   OUTDIR/etc/kubernetes/pki/ca.{crt,key}                       CN=kubernetes
#   OUTDIR/etc/kubernetes/pki/apiserver.{crt,key}                serverAuth, kubeadm SANs
#   OUTDIR/etc/kubernetes/pki/apiserver-etcd-client.{crt,key}    clientAuth, by the etcd CA
#   OUTDIR/etc/kubernetes/pki/etcd/ca.{crt,key}                  CN=etcd-ca
#   OUTDIR/etc/kubernetes/pki/etcd/server.{crt,key}              serverAuth+clientAuth
#   OUTDIR/etc/kubernetes/pki/etcd/peer.{crt,key}                serverAuth+clientAuth
#   OUTDIR/etc/kubernetes/pki/etcd/healthcheck-client.{crt,key}  clientAuth
#
# and, for negative tests, OUTDIR/test-pki/:
#
#   wrong-ca.{crt,key}          an unrelated CA (CN=wrong-ca)
#   wrong-ca-client.{crt,key}   a client certificate signed by the wrong CA
#   expired-client.{crt,key}    signed by the etcd CA, validity wholly in the past
#   notyet-client.{crt,key}     signed by the etcd CA, validity starting tomorrow
#
# RSA 2048 keys in PKCS#1 PEM (as kubeadm writes them), mode 0600; leaves are
# valid one year, CAs ten. Quiet on success; on failure prints the failing
# command's output and exits non-zero. Existing files are overwritten; use a
# fresh OUTDIR. Needs only the openssl CLI (3.0: leaves are signed with
# `openssl ca`, the only 3.0 way to set both notBefore and notAfter); the
# helpers are in pki-lib.sh, shared with tree.sh.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR [NODE_NAME]" >&2
	exit 2
fi
OUT=$1
NODE=${2:-pi-master1}
PKI=$OUT/etc/kubernetes/pki
NEG=$OUT/test-pki

# shellcheck source=pki-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pki-lib.sh"
pki_init "$NODE"
KEY_ALG=rsa # kubeadm writes RSA keys, whatever the environment says

mkdir -p "$PKI/etcd" "$NEG"

ca "$PKI/ca" kubernetes
ca "$PKI/etcd/ca" etcd-ca
leaf "$PKI/apiserver" "/CN=kube-apiserver" "$PKI/ca" server
leaf "$PKI/apiserver-etcd-client" "/O=system:masters/CN=kube-apiserver-etcd-client" \
	"$PKI/etcd/ca" client
leaf "$PKI/etcd/server" "/CN=$NODE" "$PKI/etcd/ca" etcd_server
leaf "$PKI/etcd/peer" "/CN=$NODE" "$PKI/etcd/ca" etcd_server
leaf "$PKI/etcd/healthcheck-client" "/CN=kube-etcd-healthcheck-client" "$PKI/etcd/ca" client

ca "$NEG/wrong-ca" wrong-ca
leaf "$NEG/wrong-ca-client" "/CN=kube-etcd-healthcheck-client" "$NEG/wrong-ca" client
leaf "$NEG/expired-client" "/CN=kube-etcd-healthcheck-client" "$PKI/etcd/ca" client \
	"$(utc '-30 days')" "$(utc '-1 day')"
leaf "$NEG/notyet-client" "/CN=kube-etcd-healthcheck-client" "$PKI/etcd/ca" client \
	"$(utc '+1 day')" "$(utc '+366 days')"

# The negative certificates must really be what their names say.
if openssl x509 -checkend 0 -noout -in "$NEG/expired-client.crt" >/dev/null; then
	echo "pki.sh: expired-client.crt is not expired" >&2
	exit 1
fi
if ! openssl x509 -checkend 0 -noout -in "$NEG/notyet-client.crt" >/dev/null; then
	echo "pki.sh: notyet-client.crt has already expired" >&2
	exit 1
fi
