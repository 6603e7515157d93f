# pki-lib.sh: the openssl helpers of pki.sh, shared with tree.sh. Source it
# (bash), then call pki_init NODE_NAME once; it makes a scratch directory
# ($WORK, removed at exit) holding the openssl configuration, and sets
# umask 077. Then:
#
#   key PATH                 a fresh key, mode 0600: RSA 2048 in PKCS#1 PEM
#                            (as kubeadm writes them), or with KEY_ALG=ec an
#                            EC P-256 key in SEC1 PEM (as k3s writes them)
#   ca NAME CN               NAME.{key,crt}: a self-signed CA valid ten years
#   leaf NAME SUBJECT CA EXT [STARTDATE ENDDATE]
#                            NAME.{key,crt} signed by CA (path without
#                            .crt/.key) with the extension section EXT
#                            (server, etcd_server, client); dates in openssl's
#                            YYYYMMDDHHMMSSZ form, else now + 365 days
#   utc DATE-EXPR            a date(1) expression in that form
#   run CMD...               runs quietly; on failure shows what the command
#                            said and exits
#
# The SANs of the server sections name NODE_NAME, localhost, 127.0.0.1, ::1
# (and 10.96.0.1 and the kubernetes service names for "server").
# Needs only the openssl CLI (3.0: leaves are signed with `openssl ca`, the
# only 3.0 way to set both notBefore and notAfter).

# run CMD...: runs quietly; on failure shows what the command said and stops.
run() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "${0##*/}: failed: $*" >&2
		exit 1
	fi
}

pki_init() {
	local node=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/pki.XXXXXX")
	# shellcheck disable=SC2064 # expand now: WORK is fixed from here on
	trap "rm -rf -- '$WORK'" EXIT
	# openssl.cnf names the CA database directory through the environment; every
	# signature overrides it, this default only keeps `openssl req` from failing.
	export FMH_CA_DIR=$WORK

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
subjectAltName = DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:localhost, DNS:$node, IP:10.96.0.1, IP:127.0.0.1, IP:::1
[ etcd_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, DNS:$node, IP:127.0.0.1, IP:::1
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

	umask 077
}

# key PATH: a fresh key, mode 0600 (RSA 2048 PKCS#1, or EC P-256 with KEY_ALG=ec).
key() {
	if [ "${KEY_ALG:-rsa}" = ec ]; then
		run openssl ecparam -name prime256v1 -genkey -noout -out "$1"
	else
		run openssl genrsa -traditional -out "$1" 2048
	fi
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
