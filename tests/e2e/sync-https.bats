#!/usr/bin/env bats
# DESIGN §8 sync over https:// with the importer's TLS settings: ssl_ca_cert
# (PEM text), ssl_validation, ssl_crl (checked with libcurl's CRL support)
# and client certificates. A test CA, its server certificates for
# 127.0.0.1 (one of them revoked), a client certificate and the CRL are made
# with openssl once for the file; the servers are python3 http.server
# wrapped in ssl.SSLContext, on loopback.

load helpers
load repo_helpers

setup_file() {
	local pki=$BATS_FILE_TMPDIR/pki n
	local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	mkdir -p "$pki/certs"
	touch "$pki/index.txt"
	echo 1000 >"$pki/serial"
	echo 1000 >"$pki/crlnumber"
	cat >"$pki/ca.cnf" <<-EOF
		[ ca ]
		default_ca = test_ca
		[ test_ca ]
		database = $pki/index.txt
		new_certs_dir = $pki/certs
		certificate = $pki/ca.pem
		private_key = $pki/ca.key
		serial = $pki/serial
		crlnumber = $pki/crlnumber
		default_md = sha256
		default_days = 2
		default_crl_days = 2
		policy = any
		copy_extensions = copy
		unique_subject = no
		x509_extensions = leaf
		[ any ]
		commonName = supplied
		[ leaf ]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth, clientAuth
	EOF
	openssl req -x509 "${key[@]}" -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
		-subj /CN=depot-test-CA -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	for n in good revoked; do
		openssl req -new "${key[@]}" -keyout "$pki/$n.key" -out "$pki/$n.csr" \
			-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
		openssl ca -batch -config "$pki/ca.cnf" -in "$pki/$n.csr" -out "$pki/$n.pem" -notext 2>/dev/null
	done
	openssl req -new "${key[@]}" -keyout "$pki/client.key" -out "$pki/client.csr" \
		-subj /CN=depot-client 2>/dev/null
	openssl ca -batch -config "$pki/ca.cnf" -in "$pki/client.csr" -out "$pki/client.pem" -notext 2>/dev/null
	openssl ca -config "$pki/ca.cnf" -revoke "$pki/revoked.pem" 2>/dev/null
	openssl ca -config "$pki/ca.cnf" -gencrl -out "$pki/crl.pem" 2>/dev/null
	# The test material itself is right: openssl agrees with what the tests expect.
	openssl verify -CAfile "$pki/ca.pem" -crl_check -CRLfile "$pki/crl.pem" "$pki/good.pem" >/dev/null
	if openssl verify -CAfile "$pki/ca.pem" -crl_check -CRLfile "$pki/crl.pem" "$pki/revoked.pem" >/dev/null 2>&1; then
		echo "openssl accepts the revoked certificate: the test PKI is wrong" >&2
		return 1
	fi
}

# A feed of two files, served over https with CERT (good or revoked).
https_feed() {
	PKI=$BATS_FILE_TMPDIR/pki
	mkdir -p "$WORK/feed/sub"
	printf 'over tls\n' >"$WORK/feed/one.txt"
	write_bytes "$WORK/feed/sub/two.bin" 5000
	make_feed "$WORK/feed"
	start_https "$WORK/feed" "$PKI/$1.pem" "$PKI/$1.key" "${@:2}"
	URL=https://127.0.0.1:$HTTPS_PORT/PULP_MANIFEST
}

@test "a sync over https with ssl_ca_cert trusting the server's CA completes (the daemon keeps the PEM text)" {
	depot_start
	https_feed good
	cp "$PKI/ca.pem" "$WORK/ca-copy.pem"
	ctl repo create r1 --feed "$URL" --ssl-ca-cert "$WORK/ca-copy.pem"
	# The daemon has the certificate's text, not the file's name.
	rm "$WORK/ca-copy.pem"

	sync_wait r1

	echo "$TASK"
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(jq -r .result.files <<<"$TASK")" = 2 ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
	cmp "$(content_path "$(sha_of "$WORK/feed/sub/two.bin")")" "$WORK/feed/sub/two.bin"
}

@test "a sync over https fails with a clear TLS error when the server's CA is not trusted" {
	depot_start
	https_feed good
	ctl repo create r1 --feed "$URL"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	message=$(jq -r .error.message <<<"$TASK")
	echo "message: $message"
	[[ $message == *"$URL"* || $message == *"127.0.0.1:$HTTPS_PORT"* ]]
	[[ $message == *certificate* || $message == *SSL* || $message == *TLS* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
}

@test "with ssl_validation false a sync over https completes without the CA" {
	depot_start
	https_feed good
	ctl repo create r1 --feed "$URL" --ssl-validation false

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
}

@test "with ssl_crl a server whose certificate the CA revoked is refused" {
	depot_start
	https_feed revoked
	ctl repo create r1 --feed "$URL" --ssl-ca-cert "$PKI/ca.pem" --ssl-crl "$PKI/crl.pem"
	[ "$(repo_json r1 | jq -r .importer.ssl_crl)" = "PEM, $(stat -c %s "$PKI/crl.pem") bytes" ]

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	message=$(jq -r .error.message <<<"$TASK")
	echo "message: $message"
	[[ $message == *revoked* || $message == *CRL* || $message == *crl* ]]
	[ "$(repo_json r1 | jq -r .latest_version)" = null ]
	[ -z "$(content_files)" ]
	[ -z "$(tmp_files)" ]
}

@test "without ssl_crl the revoked server certificate is accepted (the CA still signed it)" {
	depot_start
	https_feed revoked
	ctl repo create r1 --feed "$URL" --ssl-ca-cert "$PKI/ca.pem"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
}

@test "with ssl_crl a server whose certificate is not revoked is accepted" {
	depot_start
	https_feed good
	ctl repo create r1 --feed "$URL" --ssl-ca-cert "$PKI/ca.pem" --ssl-crl "$PKI/crl.pem"

	sync_wait r1

	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json r1 | jq -r .latest_version)" = 1 ]
	# The CRL's copy for libcurl does not outlive the sync.
	[ -z "$(tmp_files)" ]
}

@test "a server that requires a client certificate gets ssl_client_cert and ssl_client_key; the key stays secret" {
	depot_start
	https_feed good "$BATS_FILE_TMPDIR/pki/ca.pem"
	ctl repo create nocert --feed "$URL" --ssl-ca-cert "$PKI/ca.pem"
	ctl repo create withcert --feed "$URL" --ssl-ca-cert "$PKI/ca.pem" \
		--ssl-client-cert "$PKI/client.pem" --ssl-client-key "$PKI/client.key"

	sync_wait nocert
	[ "$(jq -r .state <<<"$TASK")" = failed ]
	[ "$(jq -r .error.reason <<<"$TASK")" = exception ]
	echo "without a client certificate: $(jq -r .error.message <<<"$TASK")"

	sync_wait withcert
	[ "$(jq -r .state <<<"$TASK")" = completed ]
	[ "$(repo_json withcert | jq -r .latest_version)" = 1 ]
	[ "$(repo_json withcert | jq -r .importer.ssl_client_key)" = "********" ]
	[ "$(repo_json withcert | jq -r .importer.ssl_client_cert)" = "PEM, $(stat -c %s "$PKI/client.pem") bytes" ]
	keyline=$(sed -n 2p "$PKI/client.key")
	run -1 grep -F -- "$keyline" "$DIR/depotd.log"
	run -1 grep -rF -- "$keyline" "$DIR/logs"
	[ -z "$(tmp_files)" ]
}
