/* fm_kubeconfig: the two kinds of YAML file the agent reads from a control-
 * plane node, parsed with libyaml (this module's .c is the only file that
 * includes <yaml.h>):
 *
 *  - kubeconfigs (admin.conf, k3s.yaml ...): current-context -> context ->
 *    cluster (server, CA) and user (client certificate and key, or token);
 *  - static pod manifests (kubeadm's /etc/kubernetes/manifests/etcd.yaml,
 *    kube-apiserver.yaml): metadata.name and the command line of the first
 *    container, with a lookup of its --flag=value / --flag value options.
 *
 * The input is hostile (a file on a broken node, or a fuzzer): a file is at
 * most FM_KUBECONFIG_MAX_BYTES, collections nest at most FM_YAML_MAX_DEPTH
 * deep, a document has at most FM_YAML_MAX_NODES nodes, a scalar is at most
 * FM_YAML_MAX_SCALAR bytes and holds no NUL byte, and YAML aliases (*name)
 * are refused outright: neither file kind uses them, and refusing them is
 * what defuses "billion laughs" alias bombs. Only the first document of a
 * stream is read. Every failure is -errno with a reason naming the file, the
 * line and what was wrong.
 */
#ifndef FM_KUBECONFIG_H
#define FM_KUBECONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define FM_KUBECONFIG_MAX_BYTES (1024 * 1024)
#define FM_YAML_MAX_DEPTH	32
#define FM_YAML_MAX_NODES	16384
#define FM_YAML_MAX_SCALAR	(256 * 1024)

/* --- kubeconfig ------------------------------------------------------------ */

/* What a kubeconfig's current context says about reaching its cluster.
 * File paths are resolved: absolute ones (host paths) are joined with the
 * root prefix, relative ones are taken relative to the kubeconfig's own
 * directory (as kubectl does). The *_pem strings are the decoded *-data
 * fields: malloc'd, NUL-terminated PEM text; they win over the paths when a
 * kubeconfig gives both. */
struct fm_kubeconfig {
	char context[256];	  /* the context used: current-context, or the only one */
	char cluster[256];	  /* its cluster's name */
	char user[256];		  /* its user's name */
	char server[256];	  /* cluster.server, e.g. "https://127.0.0.1:6443"; "" if none */
	char ca_file[PATH_MAX];	  /* cluster.certificate-authority, or "" */
	char cert_file[PATH_MAX]; /* user.client-certificate, or "" */
	char key_file[PATH_MAX];  /* user.client-key, or "" */
	char *ca_pem;		  /* cluster.certificate-authority-data, or NULL */
	char *cert_pem;		  /* user.client-certificate-data, or NULL */
	char *key_pem;		  /* user.client-key-data, or NULL */
	char *token;		  /* user.token (malloc'd), or NULL */
	bool insecure;		  /* cluster.insecure-skip-tls-verify: true */
	bool current_context_missing; /* no current-context; the only context was used */
};

/* Parses the kubeconfig held in buf[0..len) (not NUL-terminated, need not
 * be text). dir is the directory relative file references are resolved
 * against (the kubeconfig's directory, already under the root prefix);
 * root is the prefix for absolute ones (NULL or "/": none). name is how the
 * reason names the input ("/etc/kubernetes/admin.conf"; NULL: "kubeconfig").
 *
 * The context used is current-context; when that is absent or empty and the
 * file has exactly one context, that one. Returns 0; -EINVAL for malformed
 * or over-limit YAML, a refused alias, bad base64 or *-data that is not PEM;
 * -ENOENT when the context, its cluster or its user is missing; -E2BIG for
 * input over FM_KUBECONFIG_MAX_BYTES; -ENAMETOOLONG for a path or server URL
 * that does not fit; -ENOMEM. kc is overwritten; on failure it holds
 * nothing (no allocation). On success the caller owns the strings: free
 * them with fm_kubeconfig_free, or take a pointer and NULL it first. */
int fm_kubeconfig_parse(struct fm_kubeconfig *kc, const void *buf, size_t len, const char *dir,
			const char *root, const char *name, char *err, size_t errlen);

/* Reads the file at path (used as given: join it with the root prefix
 * first) and parses it as above, relative references being relative to
 * path's directory. Also -errno from open/read (-ENOENT for a missing file).
 * The reason starts with path. */
int fm_kubeconfig_load(struct fm_kubeconfig *kc, const char *path, const char *root, char *err,
		       size_t errlen);

/* Frees the PEM strings and the token and NULLs them; kc can be reused.
 * Accepts a zeroed kc. */
void fm_kubeconfig_free(struct fm_kubeconfig *kc);

/* --- static pod manifests ---------------------------------------------------- */

#define FM_MANIFEST_MAX_ARGS 512

/* A static pod manifest, as much of it as the agent needs. */
struct fm_manifest {
	char name[256];	     /* metadata.name ("etcd", "kube-apiserver"), or "" */
	char container[256]; /* spec.containers[0].name, or "" */
	char **argv;	     /* spec.containers[0] command followed by args; malloc'd */
	size_t argc;	     /* at most FM_MANIFEST_MAX_ARGS */
};

/* Parses the manifest held in buf[0..len); name as for
 * fm_kubeconfig_parse. Returns 0; -EINVAL for malformed or over-limit YAML,
 * a refused alias, or a document that is not a pod (no
 * spec.containers[0]); -E2BIG for input over FM_KUBECONFIG_MAX_BYTES or
 * more than FM_MANIFEST_MAX_ARGS arguments; -ENOMEM. m is overwritten; on
 * failure it holds nothing. On success free it with fm_manifest_free. */
int fm_manifest_parse(struct fm_manifest *m, const void *buf, size_t len, const char *name,
		      char *err, size_t errlen);

/* Reads the file at path (used as given) and parses it as above; also
 * -errno from open/read. The reason starts with path. */
int fm_manifest_load(struct fm_manifest *m, const char *path, char *err, size_t errlen);

/* The value of a command-line flag of the manifest's container: flag is
 * its name with or without leading dashes ("listen-client-urls",
 * "--listen-client-urls"). Both "--flag=value" and the split form "--flag",
 * "value" (two list items, the second not starting with '-') are found,
 * with one or two leading dashes, as Go's flag package takes them; the last
 * occurrence wins, as there; nothing after a "--" item is a flag. A flag
 * given without a value ("--client-cert-auth") yields "". NULL when the flag
 * is absent. The string is borrowed from m: valid until fm_manifest_free. */
const char *fm_manifest_flag(const struct fm_manifest *m, const char *flag);

/* Frees argv and its strings; m can be reused. Accepts a zeroed m. */
void fm_manifest_free(struct fm_manifest *m);

#endif
