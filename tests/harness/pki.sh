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
# `openssl ca`, the only 3.0 way to set both notBefore and notAfter).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR [NODE_NAME]" >&2
	exit 2
fi
OUT=$1
NODE=${2:-pi-master1}
PKI=$OUT/etc/kubernetes/pki
NEG=$OUT/test-pki

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pki.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
# openssl.cnf names the CA database directory through the environment; every
# signature overrides it, this default only keeps `openssl req` from failing.
export FMH_CA_DIR=$WORK

# run CMD...: runs quietly; on failure shows what the command said and stops.
run() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "pki.sh: failed: $*" >&2
		exit 1
	fi
}

# Our own config, so the system's /etc/ssl/openssl.cnf cannot add extensions.
cat >"$WORK/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = throwaway
[ throwaway ]
dir = $ENV::FMH_CA_DIR
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes
[ policy_any ]
organizationName = optional
commonName = supplied
EOF

# Extension sections for the leaves; the SAN lines are filled in per call.
cat >"$WORK/ext.cnf" <<EOF
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:localhost, DNS:$NODE, IP:10.96.0.1, IP:127.0.0.1, IP:::1
[ etcd_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, DNS:$NODE, IP:127.0.0.1, IP:::1
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

umask 077

# key PATH: a fresh RSA 2048 key, PKCS#1, mode 0600.
key() {
	run openssl genrsa -traditional -out "$1" 2048
	chmod 0600 "$1"
}

# ca NAME CN: a self-signed CA valid ten years.
ca() {
	key "$1.key"
	run openssl req -config "$WORK/openssl.cnf" -new -x509 -sha256 -days 3650 \
		-key "$1.key" -subj "/CN=$2" -extensions v3_ca -out "$1.crt"
	chmod 0644 "$1.crt"
}

# leaf NAME SUBJECT CA EXT_SECTION [STARTDATE ENDDATE]: a key and a
# certificate signed by CA (path without .crt/.key). Dates are in openssl's
# YYYYMMDDHHMMSSZ form; without them validity is now + 365 days.
leaf() {
	local name=$1 subj=$2 ca=$3 ext=$4 dates=(-days 365) cadir
	if [ $# -eq 6 ]; then
		dates=(-startdate "$5" -enddate "$6")
	fi
	key "$name.key"
	run openssl req -config "$WORK/openssl.cnf" -new -sha256 -key "$name.key" \
		-subj "$subj" -out "$WORK/req.csr"
	# A throwaway CA database per signature: no serial or subject clashes.
	cadir=$(mktemp -d "$WORK/ca.XXXXXX")
	: >"$cadir/index.txt"
	run env FMH_CA_DIR="$cadir" openssl ca -config "$WORK/openssl.cnf" -batch -notext \
		-rand_serial -cert "$ca.crt" -keyfile "$ca.key" -in "$WORK/req.csr" \
		-out "$name.crt" -extfile "$WORK/ext.cnf" -extensions "$ext" "${dates[@]}"
	chmod 0644 "$name.crt"
}

utc() {
	date -u -d "$1" +%Y%m%d%H%M%SZ
}

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
